// The interface language for the console's scripts: Django's JavaScript catalogue (/jsi18n/, loaded by the
// page before these modules) defines `gettext` and `ngettext` globally from locale/<lang>/LC_MESSAGES/
// djangojs.po. Without it (Node tests, a page that did not load it) every string stays English (identity).

const catalog = globalThis;

export function gettext(msgid) {
  return typeof catalog.gettext === "function" ? catalog.gettext(msgid) : msgid;
}

export function ngettext(singular, plural, count) {
  if (typeof catalog.ngettext === "function") return catalog.ngettext(singular, plural, count);
  return count === 1 ? singular : plural;
}

/** Fill `%(name)s` placeholders (the catalogue's python-format) from `values`. */
export function format(template, values) {
  return template.replace(/%\((\w+)\)s/g, (whole, name) => (name in values ? String(values[name]) : whole));
}
