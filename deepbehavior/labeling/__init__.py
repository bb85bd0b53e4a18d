"""Labelling: frame selection, a labelling project folder, label formats and the browser app.

Label files are read and written by :mod:`deepbehavior.formats` (one module per tool);
:mod:`deepbehavior.labeling.formats` turns a project into labels and back.
"""

from .project import ImportReport, LabelError, Project, ProjectSpec, RevisionConflict

__all__ = ["ImportReport", "LabelError", "Project", "ProjectSpec", "RevisionConflict"]
