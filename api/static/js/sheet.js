/* The citation sheet: a modal dialog with the cited passage, its quoted words highlighted. */

import { dateElement, docHref, el, externalLink, factList, page, safeUrl } from "./dom.js";
import { findQuotes, renderMarkdown } from "./markdown.js";

let opener = null; // the marker that opened the sheet gets focus back when it closes

export function openSheet(citation, from) {
  opener = from;
  page.sheetKicker.textContent = `Source ${citation.n}`;
  page.sheetTitle.textContent = citation.title;

  const [facts, fact] = factList();
  fact("Section", citation.section || "Opening");
  fact("Source", citation.source);
  fact("Evidence", el("span", { class: "badge" }, citation.evidence));
  fact("Reviewed", dateElement(citation.reviewed));

  const snippet = String(citation.snippet || "");
  const { ranges, missing } = findQuotes(snippet, citation.quotes);
  const passage = renderMarkdown(el("blockquote", { class: "passage" }), snippet, ranges, "p");
  for (const quote of missing) passage.append(el("p", {}, el("mark", {}, quote)));

  const parts = [facts, el("h3", { class: "passage-heading" }, "The passage")];
  if (citation.quotes && citation.quotes.length) {
    parts.push(el("p", { class: "hint" }, "Highlighted: the words quoted in the answer."));
  }
  parts.push(passage);

  const actions = el("p", { class: "sheet-actions" });
  const url = safeUrl(citation.url);
  if (url) actions.append(externalLink(url, `Visit ${citation.source.split(";")[0].trim() || "the source"}`, "button-link"));
  actions.append(el("a", { href: docHref(citation.doc_id, citation.anchor), class: "button-link secondary-link", "data-close-sheet": "true" }, "Read the whole guide"));
  parts.push(actions);

  page.sheetBody.replaceChildren(...parts);
  if (!page.sheet.open) page.sheet.showModal();
  page.sheetClose.focus();
}

function closeSheet() {
  if (page.sheet.open) page.sheet.close();
}

export function wireSheet() {
  page.sheet.addEventListener("close", () => {
    const from = opener;
    opener = null;
    if (from && from.isConnected && !page.chatView.hidden) from.focus();
  });
  page.sheet.addEventListener("click", (event) => {
    if (event.target === page.sheet) closeSheet(); // the backdrop
    if (event.target.closest("[data-close-sheet]")) {
      opener = null;
      closeSheet();
    }
  });
  page.sheetClose.addEventListener("click", closeSheet);
}
