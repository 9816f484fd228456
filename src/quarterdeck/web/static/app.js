/* Quarterdeck pages: draw each chart whose Vega-Lite spec a <div class="vega" data-spec="URL">
   names (after every HTMX swap too). Vega evaluates expressions with its interpreter, so the
   Content-Security-Policy needs no 'unsafe-eval'. No other script runs on the pages. */
(function () {
  "use strict";

  function draw(root) {
    var nodes = (root || document).querySelectorAll("div.vega[data-spec]:not([data-drawn])");
    nodes.forEach(function (node) {
      node.setAttribute("data-drawn", "1");
      fetch(node.getAttribute("data-spec"), { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error("chart " + response.status); }
          return response.json();
        })
        .then(function (spec) {
          return window.vegaEmbed(node, spec, {
            actions: false,
            renderer: "svg",
            ast: true,
            expr: window.vegaInterpreter.expressionInterpreter,
            defaultStyle: false,
            tooltip: false
          });
        })
        .catch(function (error) {
          node.textContent = "The chart could not be drawn (" + error.message + ").";
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (event) { draw(event.target); });
})();
