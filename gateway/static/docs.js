// Renders the OpenAPI document with Swagger UI (served from the package). A file of its own,
// not an inline script, so that the page's Content-Security-Policy allows no inline script.
"use strict";

window.ui = SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.url,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null, // no badge fetched from another site
});
