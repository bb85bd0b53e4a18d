"""Labelling: frame selection, a labelling project folder, label formats and the browser app.

How to add a new label format: write ``io_<format>.py`` with ``export_<format>(project, out)`` and
``import_<format>(source, root) -> (Project, ImportReport)`` working on :class:`Project`, then add it
to ``EXPORTERS``/``IMPORTERS`` in :mod:`deepbehavior.labeling.formats`.
"""

from .project import ImportReport, LabelError, Project, ProjectSpec, RevisionConflict

__all__ = ["ImportReport", "LabelError", "Project", "ProjectSpec", "RevisionConflict"]
