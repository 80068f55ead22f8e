"""Sphinx hooks for the offline book.

* Drop sphinx-thebe's scripts. Thebe (live code cells) would fetch its library from unpkg when
  activated, so it cannot work in an offline book, and Jupyter Book 1 injects its config
  script twice, which raises "Identifier 'THEBE_JS_URL' has already been declared" on every
  page.
* Link every figure of a notebook's output to its full-size image: a click opens it at its
  natural size, whatever the column does to it (the same link Sphinx gives a scaled image).
"""

import posixpath

from docutils import nodes


def _drop_thebe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if scripts is None:
        return
    context["script_files"] = [
        js for js in scripts
        if "thebe" not in (getattr(js, "filename", None) or "")
        and "THEBE_JS_URL" not in str(getattr(js, "attributes", {}).get("body", ""))
    ]


def _link_figures(app, doctree, docname):
    """Wrap each image of a cell output in a link to the copy Sphinx writes to _images/."""
    if app.builder.format != "html":
        return
    images = app.env.images
    target = app.builder.get_target_uri(docname)
    for node in list(doctree.findall(nodes.image)):
        if isinstance(node.parent, nodes.reference):
            continue
        uri = next((u for u in [*(node.get("candidates") or {}).values(), node["uri"]]
                    if u in images), None)
        if uri is None:
            continue
        href = posixpath.relpath(posixpath.join(app.builder.imagedir, images[uri][1]),
                                 posixpath.dirname(target) or ".")
        link = nodes.reference("", "", internal=True, refuri=href,
                               classes=["lt-fullsize"], reftitle="open at full size")
        node.replace_self(link)
        link.append(node)


def setup(app):
    app.connect("html-page-context", _drop_thebe, priority=900)
    app.connect("doctree-resolved", _link_figures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
