"""A labelling project's import and export: the project as labels of :mod:`deepbehavior.formats`.

No file is parsed here: :func:`import_labels` reads a dataset with
:func:`deepbehavior.formats.load_labels` and copies its images and labels into a project;
:func:`export_labels` turns the project's labelled images into a
:class:`~deepbehavior.formats.LabelSet` and writes it with :func:`deepbehavior.formats.save_labels`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..formats import FORMATS, LabelledImage, LabelSet, load_labels, save_labels
from .project import ImportReport, Project, ingest

#: Formats a project can be exported to / imported from.
EXPORT_FORMATS = tuple(n for n, f in FORMATS.items() if f.write_labels)
IMPORT_FORMATS = tuple(n for n, f in FORMATS.items() if f.read_labels)


def project_labels(project: Project) -> LabelSet:
    """The labelled images of ``project`` (status ``labelled``), with their sizes, as a LabelSet."""
    images = [LabelledImage(project.image_path(name), label["instances"], label["width"], label["height"])
              for name, label in project.labelled().items()]
    spec = project.spec
    return LabelSet(classes=list(spec.classes), keypoints=list(spec.keypoints),
                    skeleton=[list(p) for p in spec.skeleton], images=images)


def export_labels(project: Project, out: str | os.PathLike, *, format: str, **options) -> Path:
    """Write the project's labelled images in ``format`` (see :data:`EXPORT_FORMATS`) at ``out``.

    ``yolo`` takes ``val_fraction`` and ``seed``; ``tensorbox`` takes ``class_index``. Raises
    ``ValueError`` for ``yolo`` when nothing is labelled.
    """
    if format == "coco":
        options.setdefault("description", f"deepbehavior labelling project {project.root.name}")
    return save_labels(project_labels(project), out, format, **options)


def import_labels(source: str | os.PathLike, root: str | os.PathLike, *, format: str | None = None,
                  **options) -> tuple[Project, ImportReport]:
    """Read the labelled dataset at ``source`` (format guessed unless given) into the project at ``root``.

    The project is created with the dataset's classes, keypoints and skeleton (or opened, when it
    has the same ones). Images are copied under free names; what the dataset lists but lacks is
    in the report.
    """
    labels = load_labels(source, format, **options)
    if not labels.images:
        missing = f" (its {len(labels.missing_images)} image paths, e.g. {labels.missing_images[0]}, resolve to no " \
                  f"file)" if labels.missing_images else ""
        raise ValueError(f"{source}: Expected labelled images to import, but got 0{missing}")
    project = Project.create(root, classes=labels.classes, keypoints=labels.keypoints, skeleton=labels.skeleton)
    report = ImportReport(missing_images=labels.missing_images,
                          labels_without_images=[Path(p).name for p in labels.labels_without_images])
    taken = set(project.images())
    for image in labels.images:
        ingest(project, image.path, image.instances, report=report, taken=taken,
               origin={"imported_from": str(image.path)})
    project.save_meta()
    return project, report
