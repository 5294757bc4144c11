/* Browsing the guidance library (GET /v1/documents, /v1/documents/{doc_id}) and the two views,
   which live in the URL's fragment so the browser's Back button goes back a view:
   #browse, #browse/<doc_id>~<anchor>, anything else is the chat. */

import { dateElement, docHref, el, externalLink, factList, page, safeUrl } from "./dom.js";
import { describeFailure, FAILURES, failureBlock } from "./failures.js";
import { renderMarkdown } from "./markdown.js";
import { httpFailure } from "./stream.js";

function showView(name) {
  const browsing = name === "browse";
  page.chatView.hidden = browsing;
  page.browseView.hidden = !browsing;
  const [active, inactive] = browsing ? [page.browseTab, page.chatTab] : [page.chatTab, page.browseTab];
  active.setAttribute("aria-current", "page");
  inactive.removeAttribute("aria-current");
}

/** Views live in the URL's fragment, so the browser's Back button goes back a view. */
export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash; // "hashchange" calls route()
}

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    throw await httpFailure(response);
  }
  return response.json();
}

function browseFailure(error) {
  if (error && error.status === 404) {
    return el(
      "div",
      { class: "note" },
      el("p", { class: "note-label" }, "Not found"),
      el("p", {}, "That document is not in our guidance library."),
      el("p", {}, el("a", { href: "#browse" }, "See all the guidance")),
    );
  }
  const info = error && error.status
    ? describeFailure(error.status, error.detail, error.retryAfter)
    : FAILURES.offline;
  return failureBlock(info);
}

async function showDocuments() {
  page.browseHeading.textContent = "Browse guidance";
  page.browseBody.replaceChildren(el("p", { class: "answer-status" }, "Loading the guidance…"));
  try {
    const { documents } = await getJson("/v1/documents");
    const list = el("ul", { class: "doc-list" });
    const sorted = [...documents].sort((a, b) => a.title.localeCompare(b.title));
    for (const doc of sorted) {
      const meta = [doc.type, doc.age_range].filter(Boolean).join(" · ");
      list.append(
        el(
          "li",
          { class: "doc-card", "data-doc-id": doc.doc_id },
          el("h2", { class: "doc-card-title" }, el("a", { href: docHref(doc.doc_id) }, doc.title)),
          el("p", {}, doc.summary),
          el("p", { class: "doc-meta" }, meta ? `${meta} · ` : "", "reviewed ", dateElement(doc.reviewed)),
        ),
      );
    }
    page.browseBody.replaceChildren(
      el("p", { class: "lead" }, `All ${documents.length} documents Nurture quotes from. Each one is checked and reviewed before it is used.`),
      list,
    );
  } catch (error) {
    page.browseBody.replaceChildren(browseFailure(error));
  }
}

async function showDocument(docId, anchor) {
  page.browseHeading.textContent = "Browse guidance";
  const back = el("p", { class: "back" }, el("a", { href: "#browse" }, "← All guidance"));
  page.browseBody.replaceChildren(back, el("p", { class: "answer-status" }, "Loading…"));
  let doc;
  try {
    doc = await getJson(`/v1/documents/${docId.split("/").map(encodeURIComponent).join("/")}`);
  } catch (error) {
    page.browseBody.replaceChildren(back, browseFailure(error));
    return;
  }
  const title = el("h2", { class: "doc-title", tabindex: "-1" }, doc.title);
  const [facts, fact] = factList();
  fact("Type", doc.type);
  if (doc.age_range) fact("Ages", doc.age_range);
  fact("Reviewed", dateElement(doc.reviewed));
  const sources = (doc.sources || []).map((source) => {
    const name = `${source.name}${source.year ? ` (${source.year})` : ""}`;
    const url = safeUrl(source.url);
    return el("li", {}, url ? externalLink(url, name) : name);
  });
  if (sources.length) fact("From", el("ul", { class: "plain-list" }, ...sources));

  const article = el("article", { class: "document", "aria-labelledby": "docTitle", "data-doc-id": doc.doc_id }, title, el("p", { class: "lead" }, doc.summary), facts);
  title.id = "docTitle";
  for (const section of doc.sections || []) {
    const depth = (section.heading_path || []).length;
    const node = el("section", section.anchor ? { id: section.anchor, class: "doc-section", tabindex: "-1" } : { class: "doc-section" });
    if (section.heading) node.append(el(depth > 1 ? "h4" : "h3", {}, section.heading));
    renderMarkdown(node, section.text, [], "p");
    article.append(node);
  }
  page.browseBody.replaceChildren(back, article);
  const target = anchor ? document.getElementById(anchor) : null;
  if (target && article.contains(target)) {
    target.classList.add("target");
    target.focus({ preventScroll: true });
    target.scrollIntoView({ block: "start" });
  } else {
    title.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
}

export function route() {
  let hash = location.hash || "";
  try {
    hash = decodeURIComponent(hash);
  } catch {
    // a malformed %-escape: use the fragment as it is
  }
  if (hash.startsWith("#browse/")) {
    const [docId, anchor] = hash.slice("#browse/".length).split("~");
    showView("browse");
    showDocument(docId, anchor);
  } else if (hash === "#browse") {
    showView("browse");
    showDocuments().then(() => page.browseHeading.focus({ preventScroll: true }));
    window.scrollTo(0, 0);
  } else {
    const wasBrowsing = !page.browseView.hidden;
    showView("chat");
    if (hash === "#question" || wasBrowsing) page.question.focus({ preventScroll: !wasBrowsing });
  }
}
