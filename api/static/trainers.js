// The trainers' workspace. Every table comes from /v1/trainers/... with a trainer key; stored
// text is only ever set as textContent.
"use strict";

(() => {
  const $ = (selector) => document.querySelector(selector);
  const KEY = "nurture-trainer-key";
  let key = sessionStorage.getItem(KEY) || "";

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    for (const child of children) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return node;
  }

  async function api(path, options = {}) {
    const response = await fetch(path, {
      ...options,
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    });
    if (!response.ok) {
      let message = `${response.status}`;
      try {
        message = (await response.json()).error.message;
      } catch (_) { /* not our JSON */ }
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    return response;
  }

  const days = () => Math.max(1, Math.min(365, Number($("#days").value) || 30));

  function csvButton(name) {
    const button = el("button", { type: "button", class: "secondary", "data-csv": name },
      "Download CSV");
    button.addEventListener("click", async () => {
      const response = await api(`/v1/trainers/csv/${name}?days=${days()}`);
      const url = URL.createObjectURL(await response.blob());
      const link = el("a", { href: url, download: `nurture-${name}-${days()}d.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    });
    return button;
  }

  function table(data, caption) {
    const head = el("tr", {}, ...data.columns.map((c) => el("th", { scope: "col" },
      c.replaceAll("_", " "))));
    const body = data.rows.map((row) => el("tr", {}, ...row.map((cell) => el("td", {}, cell))));
    const t = el("table", { "data-table": data.name }, el("caption", {}, caption || data.title),
      el("thead", {}, head), el("tbody", {}, ...body));
    // A region that can take focus, so a keyboard can scroll a wide table on a phone.
    const wrap = el("div", { class: "ws-table-wrap", tabindex: "0", role: "region",
      "aria-label": caption || data.title }, t);
    if (!data.rows.length) wrap.append(el("p", { class: "ws-hint" }, "Nothing in this period."));
    wrap.append(csvButton(data.name));
    return wrap;
  }

  // A small bar chart; the same numbers are in the table next to it for screen readers.
  function chart(values, label) {
    const width = 600, height = 120, max = Math.max(1, ...values);
    const step = width / Math.max(1, values.length);
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("class", "ws-chart");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("data-chart", label);
    values.forEach((value, i) => {
      const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      const h = Math.round((value / max) * (height - 4));
      rect.setAttribute("x", String(i * step + 1));
      rect.setAttribute("y", String(height - h));
      rect.setAttribute("width", String(Math.max(1, step - 2)));
      rect.setAttribute("height", String(h));
      svg.append(rect);
    });
    return svg;
  }

  function cluster(entry, number) {
    const box = el("article", { class: "ws-cluster", "data-cluster": String(number) });
    box.append(el("h3", {}, `${entry.count} × ${entry.questions[0]}`));
    box.append(el("ul", {}, ...entry.questions.map((q) => el("li", {}, q))));
    if (entry.closest) {
      box.append(el("p", {}, "Closest section: ",
        el("strong", {}, `${entry.closest.title} › ${entry.closest.section}`),
        ` (similarity ${entry.closest.similarity})`));
    }
    if (entry.also_asked && entry.suggest === "also_asked") {
      box.append(el("p", {}, "Suggested “Also asked as” lines for that section:"));
      box.append(el("pre", { "data-suggestion": "also-asked" }, entry.also_asked));
    }
    const details = el("details", entry.suggest === "new_document" ? { open: "" } : {},
      el("summary", {}, entry.suggest === "new_document"
        ? "No section is close: a stub for a new document" : "Or start a new document"));
    details.append(el("pre", { "data-suggestion": "new-document" }, entry.new_document));
    box.append(details);
    return box;
  }

  async function load() {
    const d = days();
    const [unanswered, unhelpful, usage, coverage, review] = await Promise.all(
      ["unanswered", "unhelpful", "usage", "coverage", "review"].map((name) =>
        api(`/v1/trainers/${name}?days=${d}`).then((r) => r.json())));

    const u = $('[data-ws="unanswered"]');
    u.replaceChildren(el("p", {}, `${unanswered.declined} declined questions in the last ${d} days; `
      + `${unanswered.clusters.length} groups.`),
      ...unanswered.clusters.map(cluster), table(unanswered));

    const h = $('[data-ws="unhelpful"]');
    h.replaceChildren(...unhelpful.groups.map((group) => el("article", { class: "ws-cluster" },
      el("h3", {}, `${group.title}${group.section ? " › " + group.section : ""}`
        + ` (${group.items.length} thumbs down)`),
      el("ul", {}, ...group.items.map((item) => el("li", {},
        item.question ? el("q", {}, item.question) : "(question not kept)",
        item.comment ? ` — “${item.comment}”` : "", ` (${item.date})`))))), table(unhelpful));

    const [daily, safety] = usage.tables;
    $('[data-ws="usage"]').replaceChildren(
      el("h3", {}, "Questions per day"), chart(daily.rows.map((r) => r[1]), "questions"),
      el("h3", {}, "Share declined per day"), chart(daily.rows.map((r) => r[3]), "declined"),
      table(daily), table(safety));

    $('[data-ws="coverage"]').replaceChildren(...coverage.tables.map((t) => table(t)));
    $('[data-ws="review"]').replaceChildren(table(review));
    await loadPreview();
  }

  async function loadPreview() {
    const box = $('[data-ws="preview"]');
    try {
      const report = await (await api("/v1/trainers/preview")).json();
      const rows = report.changes.map((c) => [c.kind, c.question, c.live.join(", "),
        c.draft.join(", ")]);
      const bars = Object.entries(report.bars).map(([name, v]) => [name, v.live, v.draft]);
      box.replaceChildren(...[
        el("p", {}, `Draft ${report.draft} (live ${report.live}): `
          + `${report.documents_embedded.length} documents re-embedded, `
          + `${report.changes.length} gold questions change. Publish with `,
          el("code", {}, `nurture ingest --activate ${report.draft}`), "."),
        report.drops.length ? el("p", { class: "ws-status" },
          `Bars that drop: ${report.drops.join(", ")}`) : null,
        table({ name: "preview_changes", title: "What changes", rows,
          columns: ["change", "question", "live_sections", "draft_sections"] }),
        table({ name: "preview_bars", title: "Bars", rows: bars,
          columns: ["bar", "live", "draft"] }),
      ].filter(Boolean));
      box.querySelectorAll("[data-csv^=preview]").forEach((b) => b.remove());
    } catch (error) {
      box.replaceChildren(el("p", { class: "ws-hint" },
        "No draft yet: run nurture preview to build one from the working corpus."));
    }
  }

  function side(title, brief) {
    const card = el("article", { "data-side": title.toLowerCase() }, el("h3", {}, title));
    if (!brief) {
      card.append(el("p", { class: "ws-hint" }, "No draft to ask."));
      return card;
    }
    card.append(el("p", { "data-answer": "" }, brief.answer));
    card.append(el("ul", {}, ...brief.citations.map((c) =>
      el("li", {}, `[${c.n}] ${c.title} › ${c.section || "Introduction"}`))));
    return card;
  }

  $("#tryForm").addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = $('[data-ws="compare"]');
    out.replaceChildren(el("p", {}, "Asking…"));
    const question = $("#tryQuestion").value;
    try {
      const result = await (await api("/v1/trainers/try",
        { method: "POST", body: JSON.stringify({ question }) })).json();
      const live = side("Live", result.live), draft = side("Draft", result.draft);
      const changed = result.draft && (result.draft.answer !== result.live.answer
        || result.draft.sections.join() !== result.live.sections.join());
      out.dataset.changed = changed ? "true" : "false";
      if (changed) draft.classList.add("ws-changed");
      out.replaceChildren(live, draft,
        el("p", {}, changed ? "The draft answers differently." : "The same answer."));
    } catch (error) {
      out.replaceChildren(el("p", { class: "ws-status" }, error.message));
    }
  });

  $("#keyForm").addEventListener("submit", async (event) => {
    event.preventDefault();
    key = $("#trainerKey").value.trim();
    const status = $("#keyStatus");
    status.textContent = "Loading…";
    try {
      await load();
      sessionStorage.setItem(KEY, key);
      status.textContent = "";
      $("#workspace").hidden = false;
      $("#workspace").dataset.loaded = "true";
    } catch (error) {
      status.textContent = error.status === 403
        ? "That is a carer's key; the workspace needs a trainer key."
        : error.status === 401 ? "That key is not a trainer key." : error.message;
    }
  });

  if (key) {
    $("#trainerKey").value = key;
  }
})();
