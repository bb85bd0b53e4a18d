"""Labelling: frame selection, a labelling project folder, label formats and the browser app.

Label files are read and written by :mod:`deepbehavior.formats` (one module per tool);
:mod:`deepbehavior.labeling.formats` turns a project into labels and back. Labels are in pixels of
their image with (0, 0) the top-left pixel's corner (see :mod:`deepbehavior.schema`).

How to add a label format: give its :class:`deepbehavior.formats.Format` a ``read_labels`` and/or
``write_labels`` (see :mod:`deepbehavior.formats`); it is then in ``EXPORT_FORMATS``/``IMPORT_FORMATS``
here and accepted by ``deepbehavior label export=``/``import_from=``. How to add a frame-selection
method: a function from the candidate frames (and, when it needs them, the stores) to scores or
picks in :mod:`.selection`, its name in ``selection.METHODS`` and a branch in ``select``; the
``frames`` job then accepts ``method=NAME``.
"""

from .project import ImportReport, LabelError, Project, ProjectSpec, RevisionConflict

__all__ = ["ImportReport", "LabelError", "Project", "ProjectSpec", "RevisionConflict"]
