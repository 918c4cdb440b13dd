"""The build hook: compile the gettext catalogs (``.po`` → ``.mo``) into the built package.

Everything else about the package is in ``pyproject.toml``. An editable install
(``pip install -e .``, what ``./dev`` makes) does not copy files, so there
:func:`opensmm.i18n.catalogs.load` compiles a catalog whose ``.mo`` is missing or older
than its ``.po`` on first use.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogs(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # compiled on first load instead (see the docstring)
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in Path(self.build_lib, "opensmm", "i18n", "locale").glob(
            "*/LC_MESSAGES/*.po"
        ):
            with po.open("rb") as source:
                catalog = read_po(source, locale=po.parent.parent.name)
            with po.with_suffix(".mo").open("wb") as out:
                write_mo(out, catalog, use_fuzzy=False)


setup(cmdclass={"build_py": BuildWithCatalogs})
