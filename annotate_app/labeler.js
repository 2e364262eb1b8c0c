// The labelling task, drawn in the browser: the answer is collected here and sent to the server
// once per item (setTriggerValue), and the server's reply carries the next item.
// Every text from the server is set with textContent: model output never becomes markup.
// The task's nodes are built once and then updated in place: on a crowd of pages sharing one
// machine, redrawing the whole task on every key press cost more than the server's reply.

const KEYS = { "1": ["sensible", true], "2": ["sensible", false], "3": ["specific", true], "4": ["specific", false] };

function button(label, hint, attrs, onClick) {
  const b = el("button", { type: "button", ...attrs });
  b.appendChild(el("span", { className: "label" }, label));
  if (hint) b.appendChild(el("kbd", { "aria-hidden": "true" }, hint));
  b.addEventListener("click", onClick);
  return b;
}

function question(t, name, label, help, keys, pick) {
  const group = el("div", { className: "question", role: "group", "aria-labelledby": `q-${name}` });
  group.appendChild(el("h3", { id: `q-${name}` }, label));
  group.appendChild(el("p", { className: "help" }, help));
  const row = el("div", { className: "choices" });
  const choices = {};
  for (const [value, text, key] of [[true, t.yes, keys[0]], [false, t.no, keys[1]]]) {
    choices[value] = button(text, key, {
      "aria-pressed": "false",
      "aria-keyshortcuts": key,
      "data-answer": `${name}-${value ? "yes" : "no"}`,
      className: "choice",
    }, () => pick(name, value));
    row.appendChild(choices[value]);
  }
  group.appendChild(row);
  return { group, choices };
}

// One labelling task on the page: its nodes, the answer so far, and what the keys do.
class Labeler {
  constructor(parent) {
    this.root = el("div", { className: "labeler" });
    parent.appendChild(this.root);
    Object.assign(this, { data: null, answers: {}, shown: 0, busy: false, skipping: false, layout: null, task: null, trigger: null });
    this.onKey = this.onKey.bind(this);
  }

  send(name, value) {
    if (this.busy) return;
    this.busy = true;
    this.root.setAttribute("aria-busy", "true"); // every control ignores input until the reply
    this.trigger(name, value);
  }

  isPair() {
    return Boolean(this.data && this.data.item && this.data.item.kind === "pairs");
  }

  ready() {
    if (this.isPair()) return this.answers.side !== undefined;
    return this.answers.sensible === false || (this.answers.sensible === true && this.answers.specific !== undefined);
  }

  submit() {
    if (!this.ready() || !this.data.item || this.busy) return;
    if (this.isPair()) {
      this.send("answer", {
        id: this.data.item.id,
        side: this.answers.side,
        reason: this.task.reason.value.trim().slice(0, 500),
        seconds: (performance.now() - this.shown) / 1000,
      });
      return;
    }
    this.send("answer", {
      id: this.data.item.id,
      sensible: this.answers.sensible,
      specific: this.answers.sensible ? this.answers.specific : false,
      seconds: (performance.now() - this.shown) / 1000,
    });
  }

  pick(name, value) {
    if (this.busy || (name === "specific" && this.answers.sensible !== true)) return;
    this.answers[name] = value;
    if (name === "sensible" && value === false) delete this.answers.specific;
    this.syncAnswers();
    const task = this.task;
    const next = name === "sensible" && value ? task.specific.choices[true] : task.submit;
    if (!next.disabled) next.focus();
  }

  pickSide(value) {
    if (this.busy) return;
    this.answers.side = value;
    this.syncAnswers();
    if (!this.task.submit.disabled) this.task.submit.focus();
  }

  syncAnswers() {
    const task = this.task;
    if (task.pair) {
      syncPair(this, task);
      task.submit.disabled = this.busy || !this.ready();
      return;
    }
    for (const name of ["sensible", "specific"]) {
      for (const value of [true, false]) {
        const b = task[name].choices[value];
        const chosen = this.answers[name] === value;
        b.setAttribute("aria-pressed", String(chosen));
        b.classList.toggle("chosen", chosen);
      }
    }
    task.specific.group.hidden = this.answers.sensible !== true;
    task.submit.disabled = this.busy || !this.ready();
  }

  progress() {
    const t = this.data.t;
    const bar = el("div", { className: "progress" });
    const count = el("span", { className: "count" });
    bar.appendChild(count);
    const meter = el("progress", { "aria-label": t.progress_label });
    bar.appendChild(meter);
    const tools = el("div", { className: "tools" });
    tools.appendChild(button(t.instructions, null, { className: "link", "data-action": "help" }, () => this.send("nav", "help")));
    tools.appendChild(button(t.language, null, { className: "link", "data-action": "lang", lang: t.other_lang }, () => this.send("nav", "lang")));
    if (this.data.is_admin) tools.appendChild(button(t.admin, null, { className: "link", "data-action": "admin" }, () => this.send("nav", "admin")));
    bar.appendChild(tools);
    return { bar, count, meter };
  }

  fillProgress(p) {
    const { t, quota, done, training } = this.data;
    if (training) p.count.textContent = t.training.replace("{i}", training[0]).replace("{n}", training[1]);
    else if (quota) p.count.textContent = `${done} / ${quota}`;
    else p.count.textContent = t.progress.replace("{done}", done);
    p.meter.hidden = !quota;
    if (quota) { p.meter.max = quota; p.meter.value = done; }
  }

  buildTask() {
    const t = this.data.t;
    const task = { progress: this.progress(), pair: this.isPair() };
    task.chat = el("section", { className: "chat", "aria-label": t.context });
    let parts, keyText;
    if (task.pair) {
      ({ parts, keys: keyText } = buildPair(this, task));
    } else {
      const resp = el("section", { className: "response", "aria-label": t.response });
      resp.appendChild(el("span", { className: "who" }, t.speaker_b));
      task.response = el("p", { className: "text" });
      resp.appendChild(task.response);
      const qs = el("div", { className: "questions" });
      const pick = (name, value) => this.pick(name, value);
      task.sensible = question(t, "sensible", t.sensible_q, t.sensible_help, ["1", "2"], pick);
      task.specific = question(t, "specific", t.specific_q, t.specific_help, ["3", "4"], pick);
      qs.append(task.sensible.group, task.specific.group);
      parts = [resp, qs];
      keyText = t.keys;
    }
    const actions = el("div", { className: "actions" });
    task.submit = button(t.submit, "Enter", { className: "submit", "aria-keyshortcuts": "Enter" }, () => this.submit());
    task.undo = button(t.undo, "U", { className: "secondary", "aria-keyshortcuts": "U", "data-action": "undo" }, () => this.send("undo", true));
    task.skip = el("div", { className: "skip" });
    actions.append(task.submit, task.undo, task.skip);
    const keys = el("p", { className: "keys" }, keyText);
    this.root.replaceChildren(task.progress.bar, task.chat, ...parts, actions, keys);
    this.task = task;
  }

  fillTask() {
    const { t, item } = this.data;
    const task = this.task;
    this.fillProgress(task.progress);
    const n = item.turns.length;
    task.chat.replaceChildren(...item.turns.map((turn, i) => {
      const person = (n - 1 - i) % 2 === 0; // the last context turn is the person's
      const row = el("div", { className: person ? "turn person" : "turn bot" });
      row.append(el("span", { className: "who" }, person ? t.speaker_a : t.speaker_b), el("p", { className: "text" }, turn));
      return row;
    }));
    task.chat.hidden = n === 0; // two whole conversations have no shared context
    task.chat.scrollTop = task.chat.scrollHeight; // a long chat: its last turns in view
    if (task.pair) fillPair(this, task);
    else {
      task.response.textContent = item.response;
      task.response.dataset.responseId = String(item.id);
    }
    task.undo.hidden = !this.data.can_undo;
    task.skip.hidden = this.data.view !== "task";
    this.skipping = false;
    this.fillSkip();
    this.syncAnswers();
  }

  fillSkip() {
    const t = this.data.t;
    const box = this.task.skip;
    if (!this.skipping) {
      box.replaceChildren(button(t.skip, null, { className: "secondary", "data-action": "skip" }, () => { this.skipping = true; this.fillSkip(); }));
      return;
    }
    const select = el("select", { "aria-label": t.skip_reason });
    for (const [value, text] of this.data.reasons) select.appendChild(el("option", { value }, text));
    const confirm = button(t.skip_confirm, null, { className: "secondary", "data-action": "skip-confirm" }, () => this.send("skip", { id: this.data.item.id, reason: select.value }));
    box.replaceChildren(select, confirm);
    select.focus();
  }

  message(title, body, extra) {
    const box = el("section", { className: "message", role: "status" });
    box.appendChild(el("h2", {}, title));
    if (body) box.appendChild(el("p", {}, body));
    if (extra) box.appendChild(extra);
    return box;
  }

  feedbackView() {
    const { t, feedback: f } = this.data;
    const body = el("div", {});
    const yesno = (v) => (v === null || v === undefined ? "—" : v ? t.yes : t.no);
    body.appendChild(el("p", { className: f.correct ? "right" : "wrong" }, f.correct ? t.feedback_right : t.feedback_wrong));
    if (f.side) {
      const shown = { left: t.pair_a, right: t.pair_b, tie: t.pair_tie }[f.side];
      body.appendChild(el("p", { className: "expected" }, `${t.pair_expected} ${shown}.`));
    } else {
      body.appendChild(el("p", {}, `${t.sensible_q} ${yesno(f.sensible)}. ${t.specific_q} ${yesno(f.specific)}.`));
    }
    if (f.explanation) body.appendChild(el("p", { className: "explanation" }, f.explanation));
    body.appendChild(button(t.continue, "Enter", { className: "submit", "aria-keyshortcuts": "Enter" }, () => this.send("nav", "next")));
    return this.message(t.feedback_title, null, body);
  }

  finishedView() {
    const { t, finish } = this.data;
    const body = el("div", {});
    body.appendChild(el("p", {}, t.code_intro));
    body.appendChild(el("p", { className: "code", "data-code": this.data.code }, this.data.code));
    const back = wayBack(finish, t.return_link);
    if (back) body.appendChild(back);
    return this.message(t.finished_title, null, body);
  }

  update(data, reply) {
    const old = this.data;
    this.data = data;
    const isTask = data.view === "task" || data.view === "training";
    const shape = isTask && data.item ? `task-${data.item.kind}-${Boolean(data.item.conversation)}` : data.view;
    const layout = `${shape}|${data.lang}|${data.is_admin}`;
    const sameItem = old && isTask && old.view === data.view && old.item && data.item && old.item.id === data.item.id;
    if (reply || !sameItem) { this.answers = {}; this.shown = performance.now(); }
    this.busy = false;
    this.root.setAttribute("lang", data.lang);
    if (isTask) {
      if (layout !== this.layout) this.buildTask();
      this.fillTask();
    } else {
      this.task = null;
      const p = this.progress();
      this.fillProgress(p);
      let body;
      if (data.view === "feedback") body = this.feedbackView();
      else if (data.view === "finished") body = this.finishedView();
      else body = this.message(data.title, data.message);
      this.root.replaceChildren(p.bar, body);
    }
    this.layout = isTask ? layout : null;
    this.root.dataset.view = data.view;
    this.root.dataset.item = data.item ? String(data.item.id) : "";
    this.root.setAttribute("aria-busy", "false");
  }

  onKey(e) {
    const target = e.composedPath()[0]; // inside the shadow root, not its host
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
    if (e.ctrlKey || e.metaKey || e.altKey || !this.data) return;
    const view = this.data.view;
    if (view === "feedback" && e.key === "Enter") { e.preventDefault(); this.send("nav", "next"); return; }
    if (view !== "task" && view !== "training") return;
    if (this.isPair() && PAIR_KEYS[e.code]) { e.preventDefault(); this.pickSide(PAIR_KEYS[e.code]); }
    else if (!this.isPair() && KEYS[e.key]) { e.preventDefault(); this.pick(...KEYS[e.key]); }
    else if (e.key === "Enter" && !(target && target.tagName === "BUTTON" && target !== this.task.submit)) { e.preventDefault(); this.submit(); }
    else if ((e.key === "u" || e.key === "U") && this.data.can_undo) { e.preventDefault(); this.send("undo", true); }
  }
}

export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  let ui = parentElement.__evaltool;
  if (!ui) {
    ui = new Labeler(parentElement);
    parentElement.__evaltool = ui;
  }
  const reply = ui.busy;
  ui.trigger = setTriggerValue;
  ui.update(data, reply);
  // Keys work anywhere on the page, not only inside the component's frame.
  if (window.__evaltoolKeys) document.removeEventListener("keydown", window.__evaltoolKeys);
  window.__evaltoolKeys = ui.onKey;
  document.addEventListener("keydown", ui.onKey);
  return () => {
    document.removeEventListener("keydown", ui.onKey);
    if (window.__evaltoolKeys === ui.onKey) window.__evaltoolKeys = null;
  };
}
