"""Sphinx hook for the offline book: drop sphinx-thebe's scripts.

Thebe (live code cells) would fetch its library from unpkg when activated, so it cannot work
in an offline book, and Jupyter Book 1 injects its config script twice, which raises
"Identifier 'THEBE_JS_URL' has already been declared" on every page.
"""


def _drop_thebe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if scripts is None:
        return
    context["script_files"] = [
        js for js in scripts
        if "thebe" not in (getattr(js, "filename", None) or "")
        and "THEBE_JS_URL" not in str(getattr(js, "attributes", {}).get("body", ""))
    ]


def setup(app):
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
