/* One answer in the conversation: its safety block, the streamed text with [n] markers, its
   sources, feedback, or the failure that took its place. */

import { dateElement, docHref, el } from "./dom.js";
import { failureBlock } from "./failures.js";
import { feedbackBlock } from "./feedback.js";
import { renderMarkdown, StreamRenderer } from "./markdown.js";

// How each safety category looks: a label, an optional tap-to-call action, and a class.
const SAFETY = {
  emergency: { label: "Emergency", call: { href: "tel:999", text: "Call 999" } },
  safeguarding: { label: "A child may be at risk" },
  carer_crisis: {
    label: "Support for you, right now",
    call: { href: "tel:116123", text: "Call Samaritans: 116\u00a0123" },
  },
  medical: { label: "Health and medicines", call: { href: "tel:111", text: "Call NHS 111" } },
};

const views = new WeakMap(); // answer <article> -> AnswerView

/** The AnswerView of the answer that holds `node`, if any. */
export function viewOf(node) {
  const article = node && node.closest("article.answer");
  return article ? views.get(article) : undefined;
}

export class AnswerView {
  constructor() {
    this.citations = new Map();
    this.safety = null;
    this.skip = "";
    this.abstained = false;
    this.answerId = null;
    this.retry = null;
    // No "busy" flag for assistive tech: it would hold back the streamed text until the end.
    this.article = el("article", { class: "answer", "data-state": "streaming" });
    this.heading = el("h2", { class: "visually-hidden" }, "Nurture's answer");
    this.body = el("div", { class: "answer-body" });
    this.status = el("p", { class: "answer-status" }, "Looking in the guidance…");
    this.article.append(this.heading, this.body, this.status);
    this.renderer = new StreamRenderer(this.body, (n) => this.marker(n));
    views.set(this.article, this);
  }

  marker(n) {
    const citation = this.citations.get(n);
    if (!citation) return `[${n}]`;
    return el(
      "button",
      { type: "button", class: "cite", "data-cite": n, "aria-haspopup": "dialog", "aria-label": `Source ${n}: ${citation.title}` },
      String(n),
    );
  }

  setCitations(list) {
    this.citations = new Map((list || []).map((citation) => [citation.n, citation]));
  }

  start(data) {
    this.answerId = data.answer_id;
    this.article.dataset.answerId = data.answer_id;
    this.abstained = Boolean(data.abstained);
    this.setCitations(data.citations);
    const safety = data.safety || {};
    if (safety.category && safety.category !== "none" && safety.message) {
      this.safety = safety;
      this.skip = safety.message;
      this.article.insertBefore(this.safetyBlock(safety), this.heading.nextSibling);
    }
    if (this.abstained) {
      this.body.classList.add("note");
      this.body.prepend(el("p", { class: "note-label" }, "Not in our guidance"));
    }
  }

  safetyBlock(safety) {
    const look = SAFETY[safety.category] || { label: "Important" };
    const attrs = { class: `safety safety-${safety.category}` };
    if (safety.category === "emergency") {
      attrs.role = "alert";
    } else {
      attrs.role = "note";
      attrs["aria-label"] = look.label;
    }
    const block = el("div", attrs, el("p", { class: "safety-label" }, look.label));
    if (look.call) block.append(el("p", { class: "safety-call" }, el("a", { href: look.call.href, class: "call-button" }, look.call.text)));
    renderMarkdown(block, safety.message);
    return block;
  }

  delta(text) {
    if (this.skip) {
      let same = 0;
      const limit = Math.min(this.skip.length, text.length);
      while (same < limit && this.skip[same] === text[same]) same += 1;
      if (same === limit) {
        this.skip = this.skip.slice(same);
        text = text.slice(same);
      } else {
        this.skip = ""; // not the expected prefix: show everything
      }
    }
    if (!text) return;
    this.status.remove();
    this.renderer.push(text);
  }

  done(data) {
    this.answerId = data.answer_id;
    this.abstained = Boolean(data.abstained);
    this.setCitations(data.citations);
    this.renderer.finish();
    let expected = String(data.answer || "");
    const message = (data.safety && data.safety.message) || (this.safety && this.safety.message) || "";
    if (this.safety && message && expected.startsWith(message)) expected = expected.slice(message.length);
    if (this.renderer.text.trim() !== expected.trim()) {
      // The streamed pieces did not add up to the answer: show the answer itself.
      this.body.replaceChildren();
      if (this.abstained) this.body.append(el("p", { class: "note-label" }, "Not in our guidance"));
      this.renderer = new StreamRenderer(this.body, (n) => this.marker(n));
      this.renderer.push(expected.replace(/^\s+/, ""));
      this.renderer.finish();
    }
    this.status.remove();
    for (const button of this.body.querySelectorAll("button.cite")) {
      const citation = this.citations.get(Number(button.dataset.cite));
      if (citation) button.setAttribute("aria-label", `Source ${citation.n}: ${citation.title}`);
    }
    if (this.abstained) this.linkRelated(data.related || []);
    if (this.citations.size) this.article.append(this.sourcesList());
    if (this.answerId) this.article.append(feedbackBlock(this.answerId));
    this.article.dataset.state = "done";
  }

  /** The related topics of an abstention, listed in its text, open the document. */
  linkRelated(related) {
    const byTitle = new Map(related.map((doc) => [doc.title.trim(), doc]));
    for (const item of this.body.querySelectorAll("li")) {
      const doc = byTitle.get(item.textContent.trim());
      if (doc) item.replaceChildren(el("a", { href: docHref(doc.doc_id), class: "related-link", "data-doc-id": doc.doc_id }, doc.title));
    }
  }

  sourcesList() {
    const list = el("ul", { class: "source-list" });
    const ordered = [...this.citations.values()].sort((a, b) => a.n - b.n);
    for (const citation of ordered) {
      const details = [citation.section, citation.source, citation.evidence].filter(Boolean).join(" · ");
      list.append(
        el(
          "li",
          {},
          el(
            "button",
            { type: "button", class: "source-button", "data-cite": citation.n, "data-doc-id": citation.doc_id, "aria-haspopup": "dialog" },
            el("span", { class: "source-n", "aria-hidden": "true" }, String(citation.n)),
            el("span", { class: "visually-hidden" }, `Source ${citation.n}: `),
            citation.title,
          ),
          el("span", { class: "source-meta" }, details, ` · reviewed `, dateElement(citation.reviewed)),
        ),
      );
    }
    // a <div>, not a <section>: one "Sources" landmark per answer would be noise
    return el("div", { class: "sources" }, el("h3", {}, "Sources"), list);
  }

  fail(info, retry) {
    this.status.remove();
    this.body.replaceChildren();
    this.body.classList.remove("note");
    const actions = [];
    if (info.retry && retry) actions.push(el("button", { type: "button", class: "secondary", "data-action": "retry" }, "Try again"));
    if (info.restart) actions.push(el("button", { type: "button", class: "secondary", "data-action": "new" }, "New conversation"));
    this.body.append(failureBlock({ ...info, actions }));
    this.retry = retry;
    this.article.classList.add("failed");
    this.article.dataset.state = "failed";
  }
}
