/* Markdown for the page: whole texts (safety messages, passages, documents) and streamed
   answer text. Only a tiny subset: paragraphs, "- " bullets, headings, **bold**, [n] markers. */

import { el } from "./dom.js";

// -- whole texts (safety messages, passages, documents) ------------------------------------

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
export function renderMarkdown(parent, text, ranges = [], headingTag = "p") {
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
export function findQuotes(text, quotes) {
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

// -- streamed answer text -------------------------------------------------------------------

/** Renders markdown as it arrives, appending nodes only (kind to screen readers' live
    regions). A partial line is rendered up to its last space, so a [n] marker or ** is
    never cut in half. */
export class StreamRenderer {
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
