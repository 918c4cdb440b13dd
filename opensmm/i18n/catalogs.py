"""The gettext catalogs: where they live, how they are compiled and loaded, and the
translators' commands.

Sources are ``locale/<lang>/LC_MESSAGES/messages.po`` beside this file, made from
``locale/messages.pot``, which Babel extracts from the templates and the code (``babel.cfg``
at the top of the repository). The compiled ``.mo`` files are not kept in git: a built
package compiles them (``setup.py``'s build hook), and :func:`load` compiles a catalog
whose ``.mo`` is missing or older than its ``.po`` (an editable install, a translator's
edit), writing it beside the source when it can and keeping it in memory otherwise.

Commands (run from the repository's top folder)::

    python -m opensmm.i18n.catalogs extract   # templates + code → locale/messages.pot
    python -m opensmm.i18n.catalogs update    # merge the .pot into every messages.po
    python -m opensmm.i18n.catalogs compile   # every messages.po → messages.mo
    python -m opensmm.i18n.catalogs check     # what is untranslated or inconsistent
    python -m opensmm.i18n.catalogs init fr   # start a new language from the .pot
"""

from __future__ import annotations

import contextlib
import gettext
import io
import string
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
LOCALE_DIR = HERE / "locale"
DOMAIN = "messages"
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
REPOSITORY = HERE.parents[1]
# The extraction keywords, shared by babel.cfg's users and the ``extract`` command.
KEYWORDS = {
    "_": None,
    "N_": None,
    "t": None,  # ctx.t("…", name=value)
    "gettext": None,
    "ngettext": (1, 2),
    "_n": (1, 2),
}

_lock = threading.Lock()
_loaded: dict[str, gettext.NullTranslations] = {}


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    return po_path(lang).with_suffix(".mo")


def has_catalog(lang: str) -> bool:
    """Whether ``lang`` has a catalog (its ``.po``, or only its ``.mo`` in a built package):
    the pages offer only such languages; :func:`load` of another gives English."""
    return po_path(lang).exists() or mo_path(lang).exists()


def available() -> list[str]:
    """The languages that have a catalog."""
    return sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=locale, domain=DOMAIN)


def compiled(po: Path) -> bytes:
    """The ``.mo`` bytes of a ``.po`` file (fuzzy entries are left out, as msgfmt does)."""
    catalog = read_catalog(po, locale=po.parent.parent.name)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def compile_catalog(lang: str) -> bytes:
    """Compile one language; the ``.mo`` is written beside the ``.po`` when possible."""
    po, mo = po_path(lang), mo_path(lang)
    data = compiled(po)
    with contextlib.suppress(OSError):  # a read-only install: used from memory
        mo.write_bytes(data)
    return data


def _stale(lang: str) -> bool:
    po, mo = po_path(lang), mo_path(lang)
    if not po.exists():
        return False  # a built package may ship only the .mo
    return not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime


def load(lang: str) -> gettext.NullTranslations:
    """The translations of ``lang`` (compiled first when the ``.mo`` is missing or stale);
    a language without a catalog gets the English source strings."""
    with _lock:
        found = _loaded.get(lang)
        if found is not None and not _stale(lang):
            return found
        if _stale(lang):
            data = compile_catalog(lang)
        elif mo_path(lang).exists():
            data = mo_path(lang).read_bytes()
        else:
            found = gettext.NullTranslations()
            _loaded[lang] = found
            return found
        found = gettext.GNUTranslations(io.BytesIO(data))
        _loaded[lang] = found
        return found


# --- what the tests and the ``check`` command look at ------------------------------------
def placeholders(text: str) -> set[str]:
    """The ``{names}`` of a message (``{name!r}`` counts as ``name``)."""
    names: set[str] = set()
    for _, name, _, _ in string.Formatter().parse(text):
        if name:
            names.add(name.split("!")[0].split(":")[0])
    return names


@dataclass(frozen=True)
class Problem:
    lang: str
    msgid: str
    what: str

    def __str__(self) -> str:
        return f"{self.lang}: {self.what}: {self.msgid!r}"


def problems(lang: str) -> list[Problem]:
    """Messages of the ``.pot`` untranslated, fuzzy, missing a plural form, or whose
    placeholders differ from the English; also messages no longer in the ``.pot``."""
    template = read_catalog(TEMPLATE)
    catalog = read_catalog(po_path(lang), locale=lang)
    found: list[Problem] = []
    wanted = {m.id for m in template if m.id}
    for extra in catalog:  # obsolete entries are not iterated
        if extra.id and extra.id not in wanted:
            key = extra.id if isinstance(extra.id, str) else extra.id[0]
            found.append(Problem(lang, key, "not in the .pot (run update)"))
    for expected in template:
        if not expected.id:
            continue
        key = expected.id if isinstance(expected.id, str) else expected.id[0]
        message = catalog.get(expected.id)
        if message is None:
            found.append(Problem(lang, key, "missing (run update)"))
            continue
        if lang == "en":
            continue  # English shows the msgids themselves; its catalog only has to exist
        if message.fuzzy:
            found.append(Problem(lang, key, "fuzzy"))
        ids = [expected.id] if isinstance(expected.id, str) else list(expected.id)
        strings = [message.string] if isinstance(message.string, str) else list(
            message.string or ()
        )
        if isinstance(expected.id, str) != isinstance(message.id, str):
            found.append(Problem(lang, key, "singular/plural mismatch"))
            continue
        if len(strings) != (1 if isinstance(expected.id, str) else catalog.num_plurals):
            found.append(Problem(lang, key, f"needs {catalog.num_plurals} plural forms"))
        if any(not s for s in strings):
            found.append(Problem(lang, key, "untranslated"))
            continue
        english = set().union(*(placeholders(i) for i in ids))
        for text in strings:
            own = placeholders(text)
            # A plural form may leave the count out ("one order": "طلب واحد").
            if own != english and not (len(ids) > 1 and own == english - {"n"}):
                found.append(Problem(lang, key, f"placeholders {sorted(own)} ≠ {sorted(english)}"))
    return found


# --- the translators' commands -------------------------------------------------------------
def extract(out: Path = TEMPLATE) -> None:
    """Templates and code → ``messages.pot`` (what ``pybabel extract -F babel.cfg`` does)."""
    from babel.messages.extract import extract_from_dir

    template = Catalog(project="opensmm", domain=DOMAIN, charset="utf-8", fuzzy=False)
    method_map = [
        ("opensmm/**/templates/**.html", "jinja2"),
        ("opensmm/**/templates/**.txt", "jinja2"),  # the mails' text parts
        ("opensmm/**.py", "python"),
    ]
    options_map = {
        "opensmm/**/templates/**.html": {"extensions": "jinja2.ext.i18n"},
        "opensmm/**/templates/**.txt": {"extensions": "jinja2.ext.i18n"},
    }
    for filename, lineno, message, comments, context in extract_from_dir(
        REPOSITORY / "opensmm",
        method_map=[(p.removeprefix("opensmm/"), m) for p, m in method_map],
        options_map={k.removeprefix("opensmm/"): v for k, v in options_map.items()},
        keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    ):
        if "client/" in filename.replace("\\", "/"):
            continue  # the API client is a library with its own English messages
        template.add(
            message,
            None,
            [("opensmm/" + filename.replace("\\", "/"), lineno)],
            auto_comments=comments,
            context=context,
            flags=("python-brace-format",) if _braces(message) else (),
        )
    with out.open("wb") as target:
        write_po(target, template, width=100, sort_output=True, omit_header=False)


def _braces(message: str | tuple[str, ...]) -> bool:
    texts = [message] if isinstance(message, str) else list(message)
    return any(placeholders(t) for t in texts)


def update() -> None:
    """Merge ``messages.pot`` into each language (``pybabel update``)."""
    template = read_catalog(TEMPLATE)
    for lang in available():
        catalog = read_catalog(po_path(lang), locale=lang)
        catalog.update(template, no_fuzzy_matching=True)
        with po_path(lang).open("wb") as out:
            write_po(out, catalog, width=100, sort_output=True, ignore_obsolete=True)


def init(lang: str) -> None:
    """A new language from the ``.pot`` (``pybabel init``)."""
    from babel import Locale

    template = read_catalog(TEMPLATE)
    catalog = Catalog(locale=Locale.parse(lang), domain=DOMAIN, project="opensmm")
    catalog.update(template, no_fuzzy_matching=True)
    po_path(lang).parent.mkdir(parents=True, exist_ok=True)
    with po_path(lang).open("wb") as out:
        write_po(out, catalog, width=100, sort_output=True)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    if command == "extract":
        extract()
    elif command == "update":
        update()
    elif command == "compile":
        for lang in available():
            compile_catalog(lang)
    elif command == "check":
        found = [p for lang in available() for p in problems(lang)]
        for problem in found:
            print(problem)
        return 1 if found else 0
    elif command == "init" and len(argv) == 2:
        init(argv[1])
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
