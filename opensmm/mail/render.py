"""Mail templates: ``NAME.txt`` (blocks ``subject`` and ``body``, plain text) and
``NAME.html`` (the HTML part, autoescaped), in ``opensmm/mail/templates/``.

They translate with ``_("…", name=value)`` through the same gettext catalogs as the pages
(the recipient's language, not the visitor's), so a mail's strings are extracted and
translated with the pages' (``python -m opensmm.i18n.catalogs extract``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2

from opensmm.i18n.languages import language
from opensmm.i18n.translate import Translator

TEMPLATES = Path(__file__).resolve().parent / "templates"

# Every mail there is; ``queue`` refuses any other name.
PASSWORD_RESET = "password_reset"  # noqa: S105 - a template name
EMAIL_VERIFICATION = "email_verification"
EMAIL_CHANGED = "email_changed"
# Its words come translated from opensmm.tickets.notify.
TICKET_REPLY = "ticket_reply"
# Its words come translated from opensmm.notifications.scan (customers' and staff's notices).
NOTICE = "notice"
TEMPLATES_KNOWN = (PASSWORD_RESET, EMAIL_VERIFICATION, EMAIL_CHANGED, TICKET_REPLY, NOTICE)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # HTML parts are escaped; the text part and the subject are plain text.
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",),
                                            default_for_string=False, default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    english = Translator("en")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        english.gettext, english.ngettext, newstyle=True
    )
    return env


def render(template: str, lang: str, params: dict[str, str]) -> Rendered:
    t = Translator(language(lang))
    env = environment()
    values = {"_": t, "gettext": t.gettext, "ngettext": t.ngettext, "lang": t.lang, **params}
    text_template = env.get_template(f"{template}.txt")
    context = text_template.new_context(values)
    subject = "".join(text_template.blocks["subject"](context))
    body = "".join(text_template.blocks["body"](context))
    html = env.get_template(f"{template}.html").render(values)
    return Rendered(subject=" ".join(subject.split())[:255], text=body.strip() + "\n", html=html)
