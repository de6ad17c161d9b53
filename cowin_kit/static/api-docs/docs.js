// The API reference: Swagger UI over /api/v1/openapi.json, grouped by tag (the order of
// the document's tags), every operation's "Try it out" open. Public operations answer
// directly; the others need a token, given once with "Authorize" (bearer: the `token` of
// a citizen's or staff member's sign-in, or a partner's X-Api-Key).
//
// The page's table of contents links to "#/<tag>" and "#/<tag>/<operationId>": following
// one filters Swagger UI to that tag (its filter box, cleared to see every tag again) and
// opens the operation, on load as on a click.
function openFromHash(ui) {
  const [tag, operation] = decodeURIComponent(location.hash.replace(/^#\/?/, "")).split("/");
  if (!tag) return;
  ui.layoutActions.updateFilter(tag);
  ui.layoutActions.show(["operations-tag", tag], true);
  if (operation) ui.layoutActions.show(["operations", tag, operation], true);
  setTimeout(() => {
    const id = operation ? `operations-${tag}-${operation}` : `operations-tag-${tag}`;
    const target = document.getElementById(id.replace(/\s/g, "_"));
    if (target) target.scrollIntoView();
  }, 200);
}

window.addEventListener("DOMContentLoaded", () => {
  const holder = document.getElementById("swagger-ui");
  const ui = SwaggerUIBundle({
    url: holder.dataset.spec,
    dom_id: "#swagger-ui",
    docExpansion: "list",
    filter: true,
    tryItOutEnabled: true,
    displayRequestDuration: true,
    validatorUrl: null,
    defaultModelsExpandDepth: 0,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    onComplete: () => openFromHash(ui),
  });
  window.ui = ui;
  window.addEventListener("hashchange", () => openFromHash(ui));
});
