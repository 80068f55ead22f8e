// Loaded before require.js (book/_config.yml, nb_ipywidgets_js). html-manager inserts the CSS
// of its icon fonts with URLs in the folder of its AMD modules' URLs, which otherwise depend
// on the order its scripts load in (the page's folder, @jupyter-widgets/ or
// @jupyter-widgets/html-manager/dist/): map those module names to this script's folder,
// where the Makefile puts the fonts, once. require.js reads a global `require` object as its
// configuration.
var require = (function () {
  var here = document.currentScript.src.replace(/\/[^/]*$/, "");
  return {paths: {"@jupyter-widgets/html-manager/dist": here, "@jupyter-widgets": here}};
})();
