// The contract at /openapi.json in Swagger UI, with this server first among its servers so that
// "Try it out" calls the mock (the document's first server is eSD's own host). Nothing else is fetched.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  fetch(root.dataset.spec, { headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) throw new Error(root.dataset.spec + " answered " + response.status);
      return response.json();
    })
    .then(function (spec) {
      var others = (spec.servers || []).filter(function (s) { return s.url !== root.dataset.api; });
      spec.servers = [{ url: root.dataset.api, description: "this mock" }].concat(others);
      window.ui = SwaggerUIBundle({
        spec: spec,
        domNode: root,
        deepLinking: true,
        validatorUrl: null,
        presets: [SwaggerUIBundle.presets.apis],
        layout: "BaseLayout",
      });
    })
    .catch(function (error) {
      root.textContent = "The contract could not be loaded: " + error.message;
    });
})();
