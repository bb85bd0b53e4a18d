"""Package layout (metadata and dependencies are in pyproject.toml).

The jobs live in the top-level folder ``jobs/`` with their YAML in ``conf/``; installed, they are the
package ``deepbehavior_jobs`` (a distinctive name: a bare ``jobs`` would collide with other
projects') with the YAML as its data ``deepbehavior_jobs/conf/*.yaml``, where Hydra finds it
through the package.
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[*find_namespace_packages(include=["deepbehavior", "deepbehavior.*", "hydra_plugins",
                                                "hydra_plugins.*"]),
              "deepbehavior_jobs", "deepbehavior_jobs.conf"],
    package_dir={"deepbehavior_jobs": "jobs", "deepbehavior_jobs.conf": "conf"},
    package_data={"": ["*.yaml", "*.html", "*.js", "*.css"]},
)
