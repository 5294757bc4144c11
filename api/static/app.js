/* Nurture's chat page: plain JavaScript, no build step.

   Talks to the API served by the same app:
     POST /v1/ask/stream   Server-Sent Events: start, delta..., done (or error)
     POST /v1/feedback     thumbs up or down, with an optional comment
     GET  /v1/documents    the guidance library, and /v1/documents/{doc_id} for one document

   Server text is never parsed as HTML: every string goes into the page as a text node, and the
   tiny markdown subset (paragraphs, "- " bullets, **bold**, [n] markers) is built with
   createElement. */
"use strict";

(() => {
  const EMERGENCY_NUMBERS = [
    { href: "tel:999", label: "Call 999", text: " if a child is in danger or seriously unwell" },
    { href: "tel:111", label: "Call NHS 111", text: " for urgent health advice" },
    { href: "tel:116123", label: "Call Samaritans on 116 123", text: " if you need to talk, day or night" },
  ];

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

  const MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
  ];

  const $ = (id) => document.getElementById(id);
  const page = {
    chatView: $("chatView"),
    browseView: $("browseView"),
    browseBody: $("browseBody"),
    browseHeading: $("browseHeading"),
    chatTab: $("chatTab"),
    browseTab: $("browseTab"),
    intro: $("intro"),
    log: $("chatLog"),
    form: $("askForm"),
    question: $("question"),
    send: $("sendButton"),
    newConversation: $("newConversation"),
    announcer: $("announcer"),
    sheet: $("sheet"),
    sheetKicker: $("sheetKicker"),
    sheetTitle: $("sheetTitle"),
    sheetBody: $("sheetBody"),
    sheetClose: $("sheetClose"),
  };

  const state = {
    conversationId: null,
    controller: null,
    busy: false,
    sheetOpener: null,
    pendingAnchor: null,
    views: new WeakMap(), // answer <article> -> AnswerView
    uid: 0,
  };

  // -- small DOM helpers ----------------------------------------------------------------------

  /** el("p", {class: "x"}, "text", child) - attributes are set with setAttribute, text as nodes. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "hidden") node.hidden = Boolean(value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function nextId(prefix) {
    state.uid += 1;
    return `${prefix}${state.uid}`;
  }

  function announce(text) {
    page.announcer.textContent = "";
    window.setTimeout(() => { page.announcer.textContent = text; }, 50);
  }

  function formatDate(iso) {
    const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(iso || ""));
    if (!match) return String(iso || "");
    return `${Number(match[3])} ${MONTHS[Number(match[2]) - 1]} ${match[1]}`;
  }

  function dateElement(iso) {
    return el("time", { datetime: iso }, formatDate(iso));
  }

  function externalLink(url, text, className) {
    return el(
      "a",
      { href: url, target: "_blank", rel: "noopener", class: className },
      text,
      el("span", { class: "visually-hidden" }, " (opens in a new tab)"),
    );
  }

  function safeUrl(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
  }

  function docHref(docId, anchor) {
    return `#browse/${docId}` + (anchor ? `~${anchor}` : "");
  }

  function icon(kind) {
    // Drawn for Nurture: a simple thumb. "down" is the same shape turned over.
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "icon");
    const group = document.createElementNS(ns, "g");
    if (kind === "down") group.setAttribute("transform", "rotate(180 12 12)");
    const cuff = document.createElementNS(ns, "rect");
    for (const [k, v] of Object.entries({ x: 2, y: 10, width: 4, height: 11, rx: 1 })) {
      cuff.setAttribute(k, v);
    }
    const hand = document.createElementNS(ns, "path");
    hand.setAttribute(
      "d",
      "M8 10 L11.6 3.2 C13.2 3 14.6 4.2 14.1 6.1 L13.3 9 H19.4 C20.9 9 21.9 10.4 21.5 11.8 " +
        "L19.4 19.2 C19.1 20.3 18.1 21 17 21 H8 Z",
    );
    group.append(cuff, hand);
    svg.append(group);
    return svg;
  }

  // -- markdown: whole texts (safety messages, passages, documents) ---------------------------

  /** Blocks of a markdown text as character ranges, so highlights can be mapped onto them. */
  function parseBlocks(text) {
    const blocks = [];
    let current = null;
    let position = 0;
    for (const line of text.split("\n")) {
      const start = position;
      const end = start + line.length;
      position = end + 1;
      if (!line.trim()) {
        current = null;
        continue;
      }
      const bullet = /^\s*(?:[-*+]|(\d+)[.)])\s+/.exec(line);
      if (bullet) {
        const type = bullet[1] ? "ol" : "ul";
        if (!current || current.type !== type) {
          current = { type, items: [] };
          blocks.push(current);
        }
        current.items.push([[start + bullet[0].length, end]]);
        continue;
      }
      const heading = /^\s*#{1,6}\s+/.exec(line);
      if (heading) {
        blocks.push({ type: "h", segments: [[start + heading[0].length, end]] });
        current = null;
        continue;
      }
      if (current && (current.type === "ul" || current.type === "ol") && /^\s/.test(line)) {
        current.items[current.items.length - 1].push([start, end]);
      } else if (current && current.type === "p") {
        current.segments.push([start, end]);
      } else {
        current = { type: "p", segments: [[start, end]] };
        blocks.push(current);
      }
    }
    return blocks;
  }

  /** Append the text of `segments` (line ranges) to parent: **bold** and highlighted ranges. */
  function appendInline(parent, text, segments, marked) {
    const runs = [];
    let bold = false;
    const push = (chars, isMarked, isBold) => {
      const last = runs[runs.length - 1];
      if (last && last.marked === isMarked && last.bold === isBold) last.text += chars;
      else runs.push({ text: chars, marked: isMarked, bold: isBold });
    };
    segments.forEach(([start, end], index) => {
      if (index > 0) push(" ", Boolean(marked[segments[index - 1][1]]), bold);
      for (let i = start; i < end; i += 1) {
        if (text[i] === "*" && text[i + 1] === "*" && i + 1 < end) {
          bold = !bold;
          i += 1;
          continue;
        }
        push(text[i], Boolean(marked[i]), bold);
      }
    });
    let mark = null;
    for (const run of runs) {
      let container = parent;
      if (run.marked) {
        if (!mark) {
          mark = el("mark");
          parent.append(mark);
        }
        container = mark;
      } else {
        mark = null;
      }
      container.append(run.bold ? el("strong", {}, run.text) : document.createTextNode(run.text));
    }
  }

  /** Render markdown into parent; `ranges` ([start, end) pairs) are wrapped in <mark>. */
  function renderMarkdown(parent, text, ranges = [], headingTag = "p") {
    text = String(text || "");
    const marked = new Uint8Array(text.length + 1);
    for (const [start, end] of ranges) marked.fill(1, start, end);
    for (const block of parseBlocks(text)) {
      if (block.type === "p" || block.type === "h") {
        const node = el(block.type === "h" ? headingTag : "p", block.type === "h" ? { class: "md-heading" } : {});
        appendInline(node, text, block.segments, marked);
        parent.append(node);
      } else {
        const list = el(block.type);
        for (const item of block.items) {
          const li = el("li");
          appendInline(li, text, item, marked);
          list.append(li);
        }
        parent.append(list);
      }
    }
    return parent;
  }

  /** Where each quote sits in text, ignoring differences in whitespace (and ** markup). */
  function findQuotes(text, quotes) {
    const positions = [];
    let key = "";
    for (let i = 0; i < text.length; i += 1) {
      if (/\s/.test(text[i]) || text[i] === "*") continue;
      positions.push(i);
      key += text[i];
    }
    const ranges = [];
    const missing = [];
    for (const quote of quotes || []) {
      const wanted = String(quote).replace(/[\s*]+/g, "");
      if (!wanted) continue;
      let from = 0;
      let found = false;
      for (;;) {
        const at = key.indexOf(wanted, from);
        if (at < 0) break;
        ranges.push([positions[at], positions[at + wanted.length - 1] + 1]);
        found = true;
        from = at + wanted.length;
      }
      if (!found) missing.push(quote);
    }
    return { ranges, missing };
  }

  // -- markdown: streamed answer text ---------------------------------------------------------

  /** Renders markdown as it arrives, appending nodes only (kind to screen readers' live
      regions). A partial line is rendered up to its last space, so a [n] marker or ** is
      never cut in half. */
  class StreamRenderer {
    constructor(root, makeMarker) {
      this.root = root;
      this.makeMarker = makeMarker;
      this.buffer = "";
      this.text = "";
      this.closeBlock();
    }

    push(text) {
      this.text += text;
      this.buffer += text;
      this.drain(false);
    }

    finish() {
      this.drain(true);
    }

    drain(final) {
      let newline = this.buffer.indexOf("\n");
      while (newline >= 0) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 1);
        this.feed(line, true);
        newline = this.buffer.indexOf("\n");
      }
      if (!this.buffer) return;
      if (final) {
        this.feed(this.buffer, true);
        this.buffer = "";
        return;
      }
      if (!this.lineOpen && this.buffer.trimStart().length < 3) return; // "- " or not yet?
      const cut = this.buffer.lastIndexOf(" ") + 1;
      if (cut <= 0 || (!this.lineOpen && !this.buffer.slice(0, cut).trim())) return;
      this.feed(this.buffer.slice(0, cut), false);
      this.buffer = this.buffer.slice(cut);
    }

    feed(text, endOfLine) {
      if (!this.lineOpen) {
        if (!text.trim()) {
          if (endOfLine) this.closeBlock();
          return;
        }
        const bullet = /^\s*[-*+]\s+/.exec(text);
        if (bullet) {
          if (this.blockType !== "ul") {
            this.closeBlock();
            this.startBlock("ul");
          }
          this.target = el("li");
          this.block.append(this.target);
          text = text.slice(bullet[0].length);
        } else if (this.blockType === "p" || (this.blockType === "ul" && /^\s/.test(text))) {
          this.target.append(" "); // a continuation line
          text = text.replace(/^\s+/, "");
        } else {
          this.closeBlock();
          this.startBlock("p");
          this.target = this.block;
        }
        this.lineOpen = true;
        this.bold = false;
        this.inline = this.target;
      }
      this.appendInline(text);
      if (endOfLine) this.lineOpen = false;
    }

    appendInline(text) {
      const pattern = /\*\*|\[(\d+)\]/g;
      let last = 0;
      let match = pattern.exec(text);
      while (match) {
        if (match.index > last) this.inline.append(text.slice(last, match.index));
        if (match[0] === "**") {
          if (this.bold) {
            this.inline = this.target;
          } else {
            this.inline = el("strong");
            this.target.append(this.inline);
          }
          this.bold = !this.bold;
        } else {
          this.inline.append(this.makeMarker(Number(match[1])));
        }
        last = pattern.lastIndex;
        match = pattern.exec(text);
      }
      if (last < text.length) this.inline.append(text.slice(last));
    }

    startBlock(type) {
      this.block = el(type);
      this.blockType = type;
      this.root.append(this.block);
    }

    closeBlock() {
      this.block = null;
      this.blockType = null;
      this.target = null;
      this.inline = null;
      this.lineOpen = false;
      this.bold = false;
    }
  }

  // -- Server-Sent Events over fetch ----------------------------------------------------------

  function parseEvent(raw) {
    let event = "message";
    const data = [];
    for (const line of raw.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    return data.length ? { event, data: data.join("\n") } : null;
  }

  async function* readEvents(response) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer = (buffer + value).replace(/\r\n?/g, "\n");
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const event = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event) yield event;
        end = buffer.indexOf("\n\n");
      }
    }
    const last = parseEvent(buffer.trim());
    if (last) yield last;
  }

  async function errorOf(response) {
    try {
      const body = await response.json();
      if (body && body.error) return body.error;
    } catch {
      // not JSON: a proxy's error page, say
    }
    return { type: "http_error", message: `HTTP ${response.status}`, request_id: "", fields: [] };
  }

  // -- failure --------------------------------------------------------------------------------

  /** A plain failure message, always with the emergency numbers. */
  function failureBlock({ title, detail, reference, actions = [] }) {
    const titleId = nextId("failureTitle");
    const block = el(
      "div",
      { class: "failure", role: "alert", "aria-labelledby": titleId },
      el("p", { class: "failure-title", id: titleId }, title),
    );
    if (detail) block.append(el("p", {}, detail));
    block.append(el("p", {}, "If you are worried about a child now, don't wait:"));
    const list = el("ul", { class: "numbers" });
    for (const number of EMERGENCY_NUMBERS) {
      list.append(el("li", {}, el("a", { href: number.href, class: "number-link" }, number.label), number.text));
    }
    block.append(list);
    if (reference) block.append(el("p", { class: "reference" }, `Reference: ${reference}`));
    if (actions.length) block.append(el("p", { class: "failure-actions" }, ...actions));
    return block;
  }

  function describeFailure(status, error, retryAfter) {
    const reference = (error && error.request_id) || "";
    if (status === 429) {
      const wait = Number(retryAfter) > 0 ? ` Please wait ${Number(retryAfter)} seconds and try again.` : " Please wait a minute and try again.";
      return { title: "Please wait a moment", detail: `You have asked a lot of questions in a short time.${wait}`, reference, retry: true };
    }
    if (status === 404 && error && (error.fields || []).includes("conversation_id")) {
      return {
        title: "This conversation has ended",
        detail: "Nurture no longer has this conversation. Start a new conversation and ask again.",
        reference,
        restart: true,
      };
    }
    if (status === 401 || status === 403) {
      return { title: "Nurture isn't working right now", detail: "This Nurture service needs an access key that this page does not have.", reference };
    }
    if (status === 413 || status === 422) {
      return {
        title: "That question couldn't be sent",
        detail: `Please shorten or reword it and try again. (${error ? error.message : "invalid request"})`,
        reference,
      };
    }
    if (status === 503) {
      return {
        title: "Nurture isn't working right now",
        detail: "The guidance library is not available at the moment. Please try again in a few minutes.",
        reference,
        retry: true,
      };
    }
    return {
      title: "Nurture isn't working right now",
      detail: "Something went wrong on our side, so there is no answer. Please try again in a few minutes.",
      reference,
      retry: true,
    };
  }

  // -- one answer -----------------------------------------------------------------------------

  class AnswerView {
    constructor(question) {
      this.question = question;
      this.citations = new Map();
      this.safety = null;
      this.skip = "";
      this.abstained = false;
      this.answerId = null;
      // No "busy" flag for assistive tech: it would hold back the streamed text until the end.
      this.article = el("article", { class: "answer", "data-state": "streaming" });
      this.heading = el("h2", { class: "visually-hidden" }, "Nurture's answer");
      this.body = el("div", { class: "answer-body" });
      this.status = el("p", { class: "answer-status" }, "Looking in the guidance…");
      this.article.append(this.heading, this.body, this.status);
      this.renderer = new StreamRenderer(this.body, (n) => this.marker(n));
      state.views.set(this.article, this);
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
        if (doc) item.replaceChildren(el("a", { href: docHref(doc.doc_id), class: "related-link" }, doc.title));
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
              { type: "button", class: "source-button", "data-cite": citation.n, "aria-haspopup": "dialog" },
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

  // -- feedback -------------------------------------------------------------------------------

  function feedbackBlock(answerId) {
    const questionId = nextId("feedbackQ");
    const commentId = nextId("feedbackComment");
    const hintId = nextId("feedbackHint");
    const up = el(
      "button",
      { type: "button", class: "thumb", "aria-pressed": "false", "data-rating": "up", "aria-label": "Yes, this answer helped" },
      icon("up"),
      el("span", { "aria-hidden": "true" }, "Yes"),
    );
    const down = el(
      "button",
      { type: "button", class: "thumb", "aria-pressed": "false", "data-rating": "down", "aria-label": "No, this answer didn't help" },
      icon("down"),
      el("span", { "aria-hidden": "true" }, "No"),
    );
    const comment = el("textarea", { id: commentId, rows: 3, maxlength: 2000, "aria-describedby": hintId });
    const submit = el("button", { type: "submit", class: "primary" }, "Send feedback");
    const form = el(
      "form",
      { class: "feedback-form", hidden: true },
      el("label", { for: commentId }, "Anything you'd like to add? (optional)"),
      comment,
      el("p", { class: "hint", id: hintId }, "Please don't include names or anything that could identify a child or family."),
      submit,
    );
    const status = el("p", { class: "feedback-status", role: "status" });
    const block = el(
      "div",
      { class: "feedback", role: "group", "aria-labelledby": questionId },
      el("div", { class: "feedback-row" }, el("p", { class: "feedback-question", id: questionId }, "Did this answer help?"), up, down),
      form,
      status,
    );
    let rating = null;
    async function send(withComment) {
      const body = { answer_id: answerId, rating };
      if (withComment && comment.value.trim()) body.comment = comment.value.trim();
      const response = await fetch("/v1/feedback", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
    }
    // The thumb is saved straight away; a comment, if the carer adds one, updates the same record.
    for (const button of [up, down]) {
      button.addEventListener("click", async () => {
        if (block.dataset.sent) return;
        rating = button.dataset.rating;
        up.setAttribute("aria-pressed", String(rating === "up"));
        down.setAttribute("aria-pressed", String(rating === "down"));
        status.classList.remove("thanks");
        try {
          await send(false);
          block.dataset.rated = "true";
          status.textContent = "Thank you, saved. You can add a comment below if you like.";
        } catch {
          status.textContent = "Sorry, your feedback couldn't be saved just now. Please try again.";
        }
        form.hidden = false;
        comment.focus();
      });
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!rating || block.dataset.sent) return;
      submit.disabled = true;
      status.textContent = "";
      try {
        await send(true);
        block.dataset.sent = "true";
        form.hidden = true;
        for (const button of [up, down]) button.setAttribute("aria-disabled", "true");
        status.textContent = "Thank you. Your feedback helps us improve Nurture.";
        status.classList.add("thanks");
      } catch {
        submit.disabled = false;
        status.textContent = "Sorry, your feedback couldn't be saved just now. Please try again.";
      }
    });
    return block;
  }

  // -- asking ---------------------------------------------------------------------------------

  function questionBubble(text) {
    return el(
      "div",
      { class: "turn-question" },
      el("p", { class: "visually-hidden" }, "You asked:"),
      ...text.split(/\n+/).map((line) => el("p", {}, line)),
    );
  }

  async function ask(question) {
    question = question.trim();
    if (!question || state.busy) return;
    state.busy = true;
    page.send.disabled = true;
    page.intro.hidden = true;

    const turn = el("div", { class: "turn" });
    const bubble = questionBubble(question);
    const view = new AnswerView(question);
    turn.append(bubble, view.article);
    page.log.append(turn);
    const calm = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    bubble.scrollIntoView({ block: "start", behavior: calm ? "auto" : "smooth" });

    const controller = new AbortController();
    state.controller = controller;
    const body = { question };
    if (state.conversationId) body.conversation_id = state.conversationId;
    let finished = false;
    const retry = () => {
      turn.remove();
      ask(question);
    };
    try {
      const response = await fetch("/v1/ask/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      if (!response.ok) {
        const error = await errorOf(response);
        view.fail(describeFailure(response.status, error, response.headers.get("Retry-After")), retry);
        finished = true;
        return;
      }
      for await (const event of readEvents(response)) {
        const data = JSON.parse(event.data);
        if (event.event === "start") {
          state.conversationId = data.conversation_id || state.conversationId;
          view.start(data);
        } else if (event.event === "delta") {
          view.delta(data.text || "");
        } else if (event.event === "done") {
          state.conversationId = data.conversation_id || state.conversationId;
          view.done(data);
          finished = true;
        } else if (event.event === "error") {
          view.fail(
            {
              title: "Nurture isn't working right now",
              detail: "Something went wrong while the answer was being written, so it is not complete. Please try again.",
              reference: data.request_id,
              retry: true,
            },
            retry,
          );
          finished = true;
        }
      }
      if (!finished) {
        view.fail(
          {
            title: "Nurture isn't working right now",
            detail: "The answer was cut off before it was complete. Please try again.",
            retry: true,
          },
          retry,
        );
      }
    } catch (error) {
      if (error && error.name === "AbortError") return; // a new conversation was started
      view.fail(
        {
          title: "Nurture isn't working right now",
          detail: "We couldn't reach Nurture. Check your internet connection, then try again in a few minutes.",
          retry: true,
        },
        retry,
      );
    } finally {
      if (state.controller === controller) {
        state.controller = null;
        state.busy = false;
        page.send.disabled = false;
      }
    }
  }

  function newConversation() {
    if (state.controller) state.controller.abort();
    state.controller = null;
    state.busy = false;
    state.conversationId = null;
    page.send.disabled = false;
    page.log.replaceChildren();
    page.intro.hidden = false;
    page.question.value = "";
    resizeQuestion();
    if (location.hash.startsWith("#browse")) navigate("#chat");
    page.question.focus();
    announce("New conversation started.");
  }

  function resizeQuestion() {
    page.question.style.height = "auto";
    page.question.style.height = `${Math.min(page.question.scrollHeight + 4, 220)}px`;
  }

  // -- the citation sheet ---------------------------------------------------------------------

  function openSheet(citation, opener) {
    state.sheetOpener = opener;
    page.sheetKicker.textContent = `Source ${citation.n}`;
    page.sheetTitle.textContent = citation.title;

    const facts = el("dl", { class: "facts" });
    const fact = (name, ...value) => facts.append(el("div", {}, el("dt", {}, name), el("dd", {}, ...value)));
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

  page.sheet.addEventListener("close", () => {
    const opener = state.sheetOpener;
    state.sheetOpener = null;
    if (opener && opener.isConnected && !page.chatView.hidden) opener.focus();
  });
  page.sheet.addEventListener("click", (event) => {
    if (event.target === page.sheet) closeSheet(); // the backdrop
    if (event.target.closest("[data-close-sheet]")) {
      state.sheetOpener = null;
      closeSheet();
    }
  });
  page.sheetClose.addEventListener("click", closeSheet);

  // -- browsing the guidance ------------------------------------------------------------------

  function showView(name) {
    const browsing = name === "browse";
    page.chatView.hidden = browsing;
    page.browseView.hidden = !browsing;
    const [active, inactive] = browsing ? [page.browseTab, page.chatTab] : [page.chatTab, page.browseTab];
    active.setAttribute("aria-current", "page");
    inactive.removeAttribute("aria-current");
  }

  /** Views live in the URL's fragment, so the browser's Back button goes back a view. */
  function navigate(hash) {
    if (location.hash === hash) route();
    else location.hash = hash; // "hashchange" calls route()
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) {
      const error = await errorOf(response);
      const failure = new Error(error.message);
      failure.status = response.status;
      failure.detail = error;
      throw failure;
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
    const info = error && error.status ? describeFailure(error.status, error.detail) : {
      title: "Nurture isn't working right now",
      detail: "We couldn't reach Nurture. Check your internet connection, then try again in a few minutes.",
    };
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
            { class: "doc-card" },
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
    const facts = el("dl", { class: "facts" });
    const fact = (name, ...value) => facts.append(el("div", {}, el("dt", {}, name), el("dd", {}, ...value)));
    fact("Type", doc.type);
    if (doc.age_range) fact("Ages", doc.age_range);
    fact("Reviewed", dateElement(doc.reviewed));
    const sources = (doc.sources || []).map((source) => {
      const name = `${source.name}${source.year ? ` (${source.year})` : ""}`;
      const url = safeUrl(source.url);
      return el("li", {}, url ? externalLink(url, name) : name);
    });
    if (sources.length) fact("From", el("ul", { class: "plain-list" }, ...sources));

    const article = el("article", { class: "document", "aria-labelledby": "docTitle" }, title, el("p", { class: "lead" }, doc.summary), facts);
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

  function route() {
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

  // -- wiring ---------------------------------------------------------------------------------

  page.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = page.question.value;
    if (!text.trim()) {
      page.question.focus();
      return;
    }
    if (state.busy) return;
    page.question.value = "";
    resizeQuestion();
    ask(text);
  });

  page.question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      page.form.requestSubmit();
    }
  });
  page.question.addEventListener("input", resizeQuestion);

  for (const button of document.querySelectorAll("button.example")) {
    button.addEventListener("click", () => {
      page.question.value = "";
      ask(button.textContent);
    });
  }

  page.newConversation.addEventListener("click", newConversation);

  page.log.addEventListener("click", (event) => {
    const cite = event.target.closest("[data-cite]");
    if (cite) {
      const view = state.views.get(cite.closest("article.answer"));
      const citation = view && view.citations.get(Number(cite.dataset.cite));
      if (citation) openSheet(citation, cite);
      return;
    }
    const action = event.target.closest("[data-action]");
    if (action) {
      const view = state.views.get(action.closest("article.answer"));
      if (action.dataset.action === "retry" && view && view.retry && !state.busy) view.retry();
      if (action.dataset.action === "new") newConversation();
    }
  });

  page.chatTab.addEventListener("click", () => navigate("#chat"));
  page.browseTab.addEventListener("click", () => navigate("#browse"));
  window.addEventListener("hashchange", route);

  if (location.hash.startsWith("#browse")) route();
})();
