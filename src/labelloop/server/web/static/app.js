// labelloop pages: log-in form, the keyboard-first work page (annotate, review, adjudicate), the
// account page and the admin page.
// Hand-written, no build step, no third-party code. Calls the REST API under /api/v1 with the
// session cookie and the CSRF token the server rendered into <meta name="csrf-token">.
"use strict";

(() => {
  const API = "/api/v1";

  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function api(method, path, body, extra) {
    const init = {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      ...(extra || {}),
    };
    if (body !== undefined) init.body = JSON.stringify(body);
    return fetch(API + path, init);
  }

  async function detail(res) {
    try {
      const body = await res.json();
      return body.detail || res.statusText;
    } catch (_e) {
      return res.statusText || "HTTP " + res.status;
    }
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // -- log in ------------------------------------------------------------------------------

  function startLogin(form) {
    const error = document.getElementById("login-error");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      error.hidden = true;
      const data = new FormData(form);
      let res;
      try {
        res = await api("POST", "/auth/login", {
          username: String(data.get("username") || ""),
          password: String(data.get("password") || ""),
        });
      } catch (_e) {
        error.textContent = "The server cannot be reached.";
        error.hidden = false;
        return;
      }
      if (res.ok) {
        window.location.assign(form.dataset.next || "/");
      } else {
        error.textContent = await detail(res);
        error.hidden = false;
      }
    });
  }

  // -- the work page -----------------------------------------------------------------------

  function startWork(cfg) {
    const base = "/projects/" + encodeURIComponent(cfg.project);
    const OUTBOX = `labelloop:${cfg.user}:${cfg.project}:outbox`;
    const BREAK = "labelloop:break-start";
    const PREFETCH = 2; // leased tasks waiting behind the one on screen
    const params = new URLSearchParams(window.location.search);
    const holdSeconds = Number(params.get("undo_seconds") ?? "3");
    const HOLD_MS = Number.isFinite(holdSeconds) && holdSeconds >= 0 ? holdSeconds * 1000 : 3000;

    const $ = (id) => document.getElementById(id);
    // Review and adjudicate show every opinion on the item; annotate shows none (blind).
    const SHOW_OPINIONS = cfg.mode !== "annotate";
    // The answer widget of the project's task kind (its script registered it by name).
    const widget = window.labelloopWidgets[cfg.widget.name](cfg, $("answer"), cfg.widget.options);
    widget.enabled = () => Boolean(current);
    const queue = [];
    let current = null;
    let fetching = false;
    let emptyUntil = 0;
    let resumed = false; // the first request asks for the tasks this person still holds
    let done = 0;
    let lastAnswer = null;
    let inflight = null;
    let noticeTimer = null;

    // The outbox: answers not yet acknowledged, kept in localStorage so a reload or a network
    // blip never loses one; each keeps the client_key made when its task was shown, so a retry
    // is stored once.
    const loadBox = () => {
      try {
        return JSON.parse(localStorage.getItem(OUTBOX) || "[]");
      } catch (_e) {
        return [];
      }
    };
    const saveBox = (box) => localStorage.setItem(OUTBOX, JSON.stringify(box));

    function notice(text, ms) {
      const box = $("notice");
      box.textContent = text;
      box.hidden = false;
      clearTimeout(noticeTimer);
      noticeTimer = setTimeout(() => (box.hidden = true), ms || 4000);
    }

    function showCounts() {
      $("progress").textContent = `${done} done this session`;
      const waiting = loadBox().length;
      $("outbox").textContent = waiting ? `${waiting} being saved` : "all saved";
      $("outbox").dataset.pending = String(waiting);
    }

    function renderImage(container, data) {
      const [h, w] = cfg.image_shape || [Math.sqrt(cfg.feature_fields.length), 0];
      const width = w || h;
      const values = cfg.feature_fields.map((f) => Number(data[f]) || 0);
      const vmax = Math.max(...values, 1e-9);
      const canvas = el("canvas", { width: String(width), height: String(h), class: "pixels" });
      canvas.setAttribute("aria-label", "item image");
      const ctx = canvas.getContext("2d");
      const img = ctx.createImageData(width, h);
      values.forEach((v, i) => {
        const g = Math.round(255 * (1 - Math.min(1, Math.max(0, v / vmax))));
        img.data.set([g, g, g, 255], i * 4);
      });
      ctx.putImageData(img, 0, 0);
      container.append(canvas);
    }

    function renderTable(container, data) {
      const fields = cfg.feature_fields.length ? cfg.feature_fields : Object.keys(data);
      const table = el("table", { class: "kv" });
      for (const f of fields) {
        const row = el("tr");
        row.append(el("th", {}, f), el("td", {}, String(data[f] ?? "")));
        table.append(row);
      }
      container.append(table);
    }

    function show(task, keep) {
      current = task;
      task.client_key = task.client_key || uuid();
      const item = $("item");
      item.replaceChildren();
      item.dataset.taskId = String(task.task_id);
      $("item-key").textContent = task.key ?? ""; // withheld at the annotator tier
      // Reviewers see why an item is here; annotators must not tell holdout or audit items
      // from the rest (they would label them differently and bias the accuracy estimates).
      $("item-kind").textContent = SHOW_OPINIONS ? task.kind : "";
      if (cfg.data === "image") renderImage(item, task.data);
      else if (cfg.data === "tabular") renderTable(item, task.data);
      else {
        const value = task.data[cfg.text_field];
        item.append(el("p", { class: "text" }, value == null ? JSON.stringify(task.data) : String(value)));
      }
      const s = task.suggestion;
      widget.show(s, keep);
      const sug = $("suggestion");
      if (s == null) {
        sug.textContent = "No model suggestion for this item.";
      } else {
        const shown = widget.text(s);
        const conf = task.confidence == null ? "" : ` (confidence ${(100 * task.confidence).toFixed(0)}%)`;
        sug.textContent = `Model suggests: ${shown}${conf}`;
      }
      if (SHOW_OPINIONS) loadReviewContext(task);
    }

    async function loadReviewContext(task) {
      const box = $("review-context");
      box.replaceChildren(el("p", { class: "muted" }, "Loading annotations…"));
      let body;
      try {
        const res = await api("GET", `${base}/items/${task.item_id}/annotations`);
        if (!res.ok) throw new Error(await detail(res));
        body = await res.json();
      } catch (e) {
        if (current === task) box.replaceChildren(el("p", { class: "error" }, String(e.message || e)));
        return;
      }
      if (current !== task) return;
      box.replaceChildren();
      const list = el("ul", { class: "annotations" });
      for (const a of body.annotations) {
        const label = a.label == null ? "(no label)" : widget.text(a.label);
        const flag = a.flag ? ` [${a.flag}]` : "";
        list.append(el("li", {}, `${a.annotator} (${a.tier || "?"}): ${label}${flag}`));
      }
      box.append(el("h3", {}, `Annotations (${body.annotations.length})`), list);
      if (body.prediction) {
        const p = body.prediction;
        box.append(
          el("p", {}, `Model v${p.model_version} predicts ${widget.text(p.label)} (confidence ${(100 * p.confidence).toFixed(0)}%)`),
        );
      }
      const f = body.final_label;
      box.append(
        el("p", { id: "final-label" }, f ? `Final label: ${widget.text(f.label)} (${f.source}, by ${f.decided_by})` : "No final label yet."),
      );
    }

    function showEmpty() {
      current = null;
      $("item").replaceChildren(el("p", { class: "muted", id: "no-tasks" }, "No tasks for you right now."));
      delete $("item").dataset.taskId;
      $("item-key").textContent = "";
      $("item-kind").textContent = "";
      $("suggestion").textContent = "";
      if (SHOW_OPINIONS) $("review-context").replaceChildren();
      widget.clear();
    }

    function advance() {
      const task = queue.shift();
      if (task) show(task);
      else showEmpty();
      refill();
    }

    async function refill() {
      if (fetching || Date.now() < emptyUntil) return;
      const want = PREFETCH - queue.length + (current ? 0 : 1);
      if (want <= 0) return;
      fetching = true;
      try {
        const res = await api("POST", `${base}/tasks/next`, { n: want, tier: cfg.tier, resume: !resumed });
        if (res.status === 401) return window.location.assign("/login");
        if (!res.ok) {
          notice(`Cannot get tasks: ${await detail(res)}`);
          emptyUntil = Date.now() + 10000;
          return;
        }
        const tasks = await res.json();
        resumed = true;
        const known = new Set(queue.map((t) => t.task_id));
        if (current) known.add(current.task_id);
        for (const e of loadBox()) known.add(e.task_id); // answered, still to be sent
        for (const t of tasks) if (!known.has(t.task_id)) queue.push(t);
        if (!tasks.length) emptyUntil = Date.now() + 10000;
      } catch (_e) {
        emptyUntil = Date.now() + 3000;
      } finally {
        fetching = false;
      }
      if (!current) {
        if (queue.length) advance();
        else if (!$("no-tasks")) showEmpty();
      }
    }

    function answer(flag) {
      if (!current) return;
      let label = null;
      if (flag !== "ambiguous") {
        const chosen = widget.value();
        if (chosen.problem) return notice(chosen.problem);
        label = chosen.label;
      }
      const body = { label, flag: flag || null, client_key: current.client_key };
      const box = loadBox();
      const preview = String(current.data[cfg.text_field] ?? `task ${current.task_id}`).slice(0, 80);
      box.push({ task_id: current.task_id, preview, body, due: Date.now() + HOLD_MS, tries: 0 });
      saveBox(box);
      lastAnswer = { task: current, kept: widget.state(), key: current.client_key };
      done += 1;
      advance();
      showCounts();
      flush();
    }

    async function skip() {
      if (!current) return;
      const task = current;
      lastAnswer = null;
      advance();
      try {
        await api("POST", `${base}/tasks/${task.task_id}/skip`);
      } catch (_e) {
        // the lease simply expires
      }
    }

    // Undo the last answer: still held in the outbox, it is simply dropped; already stored, the
    // server retracts it and leases the task back (unless someone has built on it since).
    async function retractStored(last) {
      let res = null;
      try {
        res = await api("POST", `${base}/tasks/${last.task.task_id}/retract`);
      } catch (_e) {
        return notice("Undo failed: no connection. Try again.", 6000);
      }
      if (!res.ok) return notice(`Undo not possible: ${await detail(res)}`, 8000);
      done -= 1;
      if (current) queue.unshift(current);
      const again = Object.assign({}, last.task, { client_key: uuid() });
      show(again, last.kept);
      showCounts();
    }

    function undo() {
      if (!lastAnswer) return notice("Nothing to undo.");
      const box = loadBox();
      const i = box.findIndex((e) => e.body.client_key === lastAnswer.key);
      if (inflight === lastAnswer.key) return notice("Saving that answer: press U again in a moment.");
      if (i < 0) {
        const last = lastAnswer;
        lastAnswer = null;
        return retractStored(last);
      }
      box.splice(i, 1);
      saveBox(box);
      done -= 1;
      if (current) queue.unshift(current);
      const { task, kept: keep } = lastAnswer;
      lastAnswer = null;
      show(task, keep);
      showCounts();
    }

    async function flush() {
      if (inflight) return;
      const now = Date.now();
      const entry = loadBox().find((e) => e.due <= now);
      if (!entry) return;
      inflight = entry.body.client_key;
      let res = null;
      try {
        res = await api("POST", `${base}/tasks/${entry.task_id}/submit`, entry.body);
      } catch (_e) {
        res = null; // a network blip: retried below with the same client_key
      }
      inflight = null;
      const box = loadBox();
      const i = box.findIndex((e) => e.body.client_key === entry.body.client_key);
      if (res && res.status === 401) {
        window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
        return;
      }
      const retry = !res || res.status >= 500 || res.status === 408 || res.status === 429;
      if (i >= 0) {
        if (retry) {
          box[i].tries += 1;
          box[i].due = Date.now() + Math.min(30000, 500 * 2 ** box[i].tries);
          notice("Connection problem: your answers are kept and will be sent again.");
        } else {
          box.splice(i, 1);
          if (!res.ok) notice(`An answer was refused: ${await detail(res)}`, 8000);
          else showGoldFeedback(entry, await res.json());
        }
        saveBox(box);
      }
      showCounts();
      if (!retry) flush();
    }

    // After a wrong answer to a gold question: the right label and the guideline behind it.
    function showGoldFeedback(entry, result) {
      const fb = result && result.gold_feedback;
      if (!fb) return;
      $("gold-item").textContent = `Your answer to “${entry.preview || "an item"}” was not right.`;
      $("gold-label").textContent = widget.text(fb.correct_label);
      $("gold-passage").textContent = fb.passage || "";
      $("gold-passage").hidden = !fb.passage;
      $("gold-feedback").hidden = false;
    }

    function toggleHelp(force) {
      const help = $("help");
      help.hidden = force === undefined ? !help.hidden : !force;
    }

    document.addEventListener("keydown", (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      const tag = ev.target && ev.target.tagName;
      if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
      const key = ev.key;
      if (key === "?") return toggleHelp();
      if (key === "Escape") return toggleHelp(false);
      if (!$("help").hidden) return;
      if (widget.key(key, Boolean(current))) return ev.preventDefault();
      if (key === "Enter") {
        ev.preventDefault(); // a focused button must not also be clicked
        return answer(null);
      }
      const lower = key.toLowerCase();
      if (lower === "s") skip();
      else if (lower === "a") answer("ambiguous");
      else if (lower === "u") undo();
    });

    $("submit").addEventListener("click", () => answer(null));
    $("skip").addEventListener("click", () => skip());
    $("ambiguous").addEventListener("click", () => answer("ambiguous"));
    $("undo").addEventListener("click", () => undo());
    $("help-toggle").addEventListener("click", () => toggleHelp());
    $("gold-dismiss").addEventListener("click", () => ($("gold-feedback").hidden = true));
    $("help-close").addEventListener("click", () => toggleHelp(false));

    // A break reminder after cfg.break_minutes of this browser session.
    if (!sessionStorage.getItem(BREAK)) sessionStorage.setItem(BREAK, String(Date.now()));
    const checkBreak = () => {
      const since = Date.now() - Number(sessionStorage.getItem(BREAK) || Date.now());
      if (since >= cfg.break_minutes * 60000) $("break-banner").hidden = false;
    };
    $("break-dismiss").addEventListener("click", () => {
      sessionStorage.setItem(BREAK, String(Date.now()));
      $("break-banner").hidden = true;
    });

    // Leaving: send held answers now (safe to repeat). Unanswered leases stay this person's: the
    // next visit asks for them first, and a lease nobody comes back for simply expires.
    window.addEventListener("pagehide", () => {
      for (const e of loadBox()) {
        api("POST", `${base}/tasks/${e.task_id}/submit`, e.body, { keepalive: true }).catch(() => {});
      }
    });

    // Restored from the back-forward cache: start afresh, the held tasks come back first.
    window.addEventListener("pageshow", (ev) => {
      if (ev.persisted) window.location.reload();
    });

    setInterval(flush, 250);
    setInterval(refill, 2000);
    setInterval(checkBreak, 1000);
    showCounts();
    refill();
    flush();
  }

  // -- the admin page ----------------------------------------------------------------------

  function say(box, text, isError) {
    box.textContent = text;
    box.classList.toggle("error", Boolean(isError));
  }

  function startAdmin() {
    const usersMessage = document.getElementById("users-message");
    document.getElementById("user-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const data = new FormData(ev.target);
      const body = Object.fromEntries(["username", "password", "role"].map((k) => [k, String(data.get(k) || "")]));
      const res = await api("POST", "/users", body);
      if (!res.ok) return say(usersMessage, `Not added: ${await detail(res)}`, true);
      window.location.reload();
    });
    for (const form of document.querySelectorAll(".role-form")) {
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const role = String(new FormData(form).get("role"));
        const who = form.dataset.username;
        const res = await api("PUT", `/users/${encodeURIComponent(who)}/role`, { role });
        if (res.ok) say(usersMessage, `${who} is now ${role}.`);
        else say(usersMessage, `Role not changed: ${await detail(res)}`, true);
      });
    }
    startCredentials(usersMessage);
    for (const card of document.querySelectorAll(".project-card")) {
      const base = "/projects/" + encodeURIComponent(card.dataset.project);
      const importBox = card.querySelector(".import-result");
      card.querySelector(".import-form").addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const form = new FormData(ev.target);
        if (!form.get("format")) form.delete("format");
        say(importBox, "Uploading…");
        // Multipart: no JSON Content-Type, the browser sets the boundary.
        const res = await fetch(`${API}${base}/imports`, {
          method: "POST",
          credentials: "same-origin",
          headers: { "X-CSRF-Token": csrf() },
          body: form,
        });
        if (!res.ok) return say(importBox, `Import refused: ${await detail(res)}`, true);
        pollJob((await res.json()).job_id, importBox);
      });
      const exportBox = card.querySelector(".export-result");
      card.querySelector(".export-form").addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const format = String(new FormData(ev.target).get("format"));
        say(exportBox, "Exporting…");
        const res = await api("POST", `${base}/exports`, { format });
        if (!res.ok) return say(exportBox, `Export failed: ${await detail(res)}`, true);
        const v = await res.json();
        say(exportBox, `Dataset version ${v.id}: ${v.n_items} items, hash ${v.content_hash.slice(0, 12)}. `);
        const link = el("a", { href: `${API}${base}/exports/${v.id}/download?format=${v.format}`, class: "download" }, `Download ${v.format}`);
        exportBox.append(link);
      });
    }
  }

  // Deactivate, reset a password, log out everywhere, revoke tokens: each ends credentials.
  function startCredentials(box) {
    const user = (name) => `/users/${encodeURIComponent(name)}`;
    const ended = (b) => `${b.username}: ${b.sessions_ended} sessions ended, ${b.tokens_revoked} API tokens revoked.`;
    for (const button of document.querySelectorAll(".active-button")) {
      button.addEventListener("click", async () => {
        const who = button.dataset.username;
        const active = button.dataset.active === "true";
        if (!active && !window.confirm(`Deactivate ${who}? They are logged out everywhere.`)) return;
        const res = await api("PUT", `${user(who)}/active`, { active });
        if (!res.ok) return say(box, `Not changed: ${await detail(res)}`, true);
        window.location.reload();
      });
    }
    for (const form of document.querySelectorAll(".reset-form")) {
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const who = form.dataset.username;
        const password = String(new FormData(form).get("password") || "");
        const res = await api("PUT", `${user(who)}/password`, { password });
        if (!res.ok) return say(box, `Password not reset: ${await detail(res)}`, true);
        form.reset();
        say(box, `Password of ${who} reset. ${ended(await res.json())}`);
      });
    }
    for (const button of document.querySelectorAll(".logout-user")) {
      button.addEventListener("click", async () => {
        const res = await api("POST", `${user(button.dataset.username)}/logout-everywhere`);
        if (!res.ok) return say(box, `Not logged out: ${await detail(res)}`, true);
        say(box, ended(await res.json()));
      });
    }
    for (const button of document.querySelectorAll(".revoke-token")) {
      button.addEventListener("click", async () => {
        const path = `${user(button.dataset.username)}/tokens/${button.dataset.tokenId}`;
        const res = await api("DELETE", path);
        if (!res.ok) return say(box, `Token not revoked: ${await detail(res)}`, true);
        button.closest("li").remove();
        say(box, `Token ${button.dataset.tokenId} of ${button.dataset.username} revoked.`);
      });
    }
  }

  // -- the account page --------------------------------------------------------------------

  function startAccount() {
    const $ = (id) => document.getElementById(id);
    const toLogin = () => setTimeout(() => window.location.assign("/login"), 1500);
    $("password-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const data = new FormData(ev.target);
      const body = { old_password: String(data.get("old_password")), new_password: String(data.get("new_password")) };
      if (body.new_password !== String(data.get("confirm"))) {
        return say($("password-message"), "The new passwords differ.", true);
      }
      const res = await api("POST", "/auth/password", body);
      if (!res.ok) return say($("password-message"), `Not changed: ${await detail(res)}`, true);
      say($("password-message"), "Password changed; you are logged out everywhere. Log in again…");
      toLogin();
    });
    $("logout-everywhere").addEventListener("click", async () => {
      const res = await api("POST", "/auth/logout-everywhere");
      if (!res.ok) return say($("everywhere-message"), `Failed: ${await detail(res)}`, true);
      const b = await res.json();
      say($("everywhere-message"), `${b.sessions_ended} sessions ended, ${b.tokens_revoked} API tokens revoked.`);
      toLogin();
    });
    for (const button of document.querySelectorAll(".revoke-token")) {
      button.addEventListener("click", async () => {
        const res = await api("DELETE", `/auth/tokens/${button.dataset.tokenId}`);
        if (!res.ok) return say($("tokens-message"), `Not revoked: ${await detail(res)}`, true);
        button.closest("tr").remove();
        say($("tokens-message"), "Token revoked.");
      });
    }
    $("token-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const data = new FormData(ev.target);
      const body = { name: String(data.get("name") || "") };
      if (data.get("days")) body.days = Number(data.get("days"));
      const res = await api("POST", "/auth/tokens", body);
      if (!res.ok) return say($("tokens-message"), `Not created: ${await detail(res)}`, true);
      const made = await res.json();
      say($("tokens-message"), `Token “${made.name}” (expires ${made.expires_at.slice(0, 10)}), shown once:`);
      $("tokens-message").append(el("code", { class: "new-token" }, made.token));
    });
  }

  async function pollJob(id, box) {
    for (;;) {
      const res = await api("GET", `/jobs/${id}`);
      if (!res.ok) return say(box, `Job ${id}: ${await detail(res)}`, true);
      const job = await res.json();
      if (job.status === "failed") return say(box, `Import job ${id} failed: ${job.error}`, true);
      if (job.status === "done") {
        const r = job.result || {};
        const parts = Object.entries(r).map(([k, v]) => `${k.replace("_", " ")} ${v}`);
        return say(box, `Import job ${id} done: ${parts.join(", ")}.`);
      }
      say(box, `Import job ${id} ${job.status}… (${job.progress} rows read)`);
      await new Promise((ok) => setTimeout(ok, 500));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("login-form");
    if (form) startLogin(form);
    const config = document.getElementById("page-config");
    if (config) startWork(JSON.parse(config.textContent));
    if (document.getElementById("admin")) startAdmin();
    if (document.getElementById("account")) startAccount();
  });
})();
