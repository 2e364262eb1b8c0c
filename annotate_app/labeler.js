// The labelling task, drawn in the browser: the answer is collected here and sent to the server
// once per item (setTriggerValue), and the server's reply carries the next item.
// Every text from the server is set with textContent: model output never becomes markup.
// The task's nodes are built once and then updated in place: on a crowd of pages sharing one
// machine, redrawing the whole task on every key press cost more than the server's reply.

const KEYS = { "1": ["sensible", true], "2": ["sensible", false], "3": ["specific", true], "4": ["specific", false] };

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "className") node.className = v;
    else node.setAttribute(k, v);
  }
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

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

function makeUi(parent) {
  const root = el("div", { className: "labeler" });
  parent.appendChild(root);
  const ui = { root, data: null, answers: {}, shown: 0, busy: false, skipping: false, layout: null, task: null, trigger: null };

  ui.send = (name, value) => {
    if (ui.busy) return;
    ui.busy = true;
    root.setAttribute("aria-busy", "true"); // every control ignores input until the reply
    ui.trigger(name, value);
  };

  ui.ready = () => ui.answers.sensible === false || (ui.answers.sensible === true && ui.answers.specific !== undefined);

  ui.submit = () => {
    if (!ui.ready() || !ui.data.item || ui.busy) return;
    ui.send("answer", {
      id: ui.data.item.id,
      sensible: ui.answers.sensible,
      specific: ui.answers.sensible ? ui.answers.specific : false,
      seconds: (performance.now() - ui.shown) / 1000,
    });
  };

  ui.pick = (name, value) => {
    if (ui.busy || (name === "specific" && ui.answers.sensible !== true)) return;
    ui.answers[name] = value;
    if (name === "sensible" && value === false) delete ui.answers.specific;
    ui.syncAnswers();
    const task = ui.task;
    const next = name === "sensible" && value ? task.specific.choices[true] : task.submit;
    if (!next.disabled) next.focus();
  };

  ui.syncAnswers = () => {
    const task = ui.task;
    for (const name of ["sensible", "specific"]) {
      for (const value of [true, false]) {
        const b = task[name].choices[value];
        const chosen = ui.answers[name] === value;
        b.setAttribute("aria-pressed", String(chosen));
        b.classList.toggle("chosen", chosen);
      }
    }
    task.specific.group.hidden = ui.answers.sensible !== true;
    task.submit.disabled = ui.busy || !ui.ready();
  };

  ui.progress = () => {
    const t = ui.data.t;
    const bar = el("div", { className: "progress" });
    const count = el("span", { className: "count" });
    bar.appendChild(count);
    const meter = el("progress", { "aria-label": t.progress_label });
    bar.appendChild(meter);
    const tools = el("div", { className: "tools" });
    tools.appendChild(button(t.instructions, null, { className: "link", "data-action": "help" }, () => ui.send("nav", "help")));
    tools.appendChild(button(t.language, null, { className: "link", "data-action": "lang", lang: t.other_lang }, () => ui.send("nav", "lang")));
    if (ui.data.is_admin) tools.appendChild(button(t.admin, null, { className: "link", "data-action": "admin" }, () => ui.send("nav", "admin")));
    bar.appendChild(tools);
    return { bar, count, meter };
  };

  ui.fillProgress = (p) => {
    const { t, quota, done, training } = ui.data;
    if (training) p.count.textContent = t.training.replace("{i}", training[0]).replace("{n}", training[1]);
    else if (quota) p.count.textContent = `${done} / ${quota}`;
    else p.count.textContent = t.progress.replace("{done}", done);
    p.meter.hidden = !quota;
    if (quota) { p.meter.max = quota; p.meter.value = done; }
  };

  ui.buildTask = () => {
    const t = ui.data.t;
    const task = { progress: ui.progress() };
    task.chat = el("section", { className: "chat", "aria-label": t.context });
    const resp = el("section", { className: "response", "aria-label": t.response });
    resp.appendChild(el("span", { className: "who" }, t.speaker_b));
    task.response = el("p", { className: "text" });
    resp.appendChild(task.response);
    const qs = el("div", { className: "questions" });
    task.sensible = question(t, "sensible", t.sensible_q, t.sensible_help, ["1", "2"], ui.pick);
    task.specific = question(t, "specific", t.specific_q, t.specific_help, ["3", "4"], ui.pick);
    qs.append(task.sensible.group, task.specific.group);
    const actions = el("div", { className: "actions" });
    task.submit = button(t.submit, "Enter", { className: "submit", "aria-keyshortcuts": "Enter" }, ui.submit);
    task.undo = button(t.undo, "U", { className: "secondary", "aria-keyshortcuts": "U", "data-action": "undo" }, () => ui.send("undo", true));
    task.skip = el("div", { className: "skip" });
    actions.append(task.submit, task.undo, task.skip);
    const keys = el("p", { className: "keys" }, t.keys);
    root.replaceChildren(task.progress.bar, task.chat, resp, qs, actions, keys);
    ui.task = task;
  };

  ui.fillTask = () => {
    const { t, item } = ui.data;
    const task = ui.task;
    ui.fillProgress(task.progress);
    const n = item.turns.length;
    task.chat.replaceChildren(...item.turns.map((turn, i) => {
      const person = (n - 1 - i) % 2 === 0; // the last context turn is the person's
      const row = el("div", { className: person ? "turn person" : "turn bot" });
      row.append(el("span", { className: "who" }, person ? t.speaker_a : t.speaker_b), el("p", { className: "text" }, turn));
      return row;
    }));
    task.response.textContent = item.response;
    task.response.dataset.responseId = String(item.id);
    task.undo.hidden = !ui.data.can_undo;
    task.skip.hidden = ui.data.view !== "task";
    ui.skipping = false;
    ui.fillSkip();
    ui.syncAnswers();
  };

  ui.fillSkip = () => {
    const t = ui.data.t;
    const box = ui.task.skip;
    if (!ui.skipping) {
      box.replaceChildren(button(t.skip, null, { className: "secondary", "data-action": "skip" }, () => { ui.skipping = true; ui.fillSkip(); }));
      return;
    }
    const select = el("select", { "aria-label": t.skip_reason });
    for (const [value, text] of ui.data.reasons) select.appendChild(el("option", { value }, text));
    const confirm = button(t.skip_confirm, null, { className: "secondary", "data-action": "skip-confirm" }, () => ui.send("skip", { id: ui.data.item.id, reason: select.value }));
    box.replaceChildren(select, confirm);
    select.focus();
  };

  ui.message = (title, body, extra) => {
    const box = el("section", { className: "message", role: "status" });
    box.appendChild(el("h2", {}, title));
    if (body) box.appendChild(el("p", {}, body));
    if (extra) box.appendChild(extra);
    return box;
  };

  ui.feedbackView = () => {
    const { t, feedback: f } = ui.data;
    const body = el("div", {});
    const yesno = (v) => (v === null || v === undefined ? "—" : v ? t.yes : t.no);
    body.appendChild(el("p", { className: f.correct ? "right" : "wrong" }, f.correct ? t.feedback_right : t.feedback_wrong));
    body.appendChild(el("p", {}, `${t.sensible_q} ${yesno(f.sensible)}. ${t.specific_q} ${yesno(f.specific)}.`));
    if (f.explanation) body.appendChild(el("p", { className: "explanation" }, f.explanation));
    body.appendChild(button(t.continue, "Enter", { className: "submit", "aria-keyshortcuts": "Enter" }, () => ui.send("nav", "next")));
    return ui.message(t.feedback_title, null, body);
  };

  ui.finishedView = () => {
    const { t, finish } = ui.data;
    const body = el("div", {});
    body.appendChild(el("p", {}, t.code_intro));
    body.appendChild(el("p", { className: "code", "data-code": ui.data.code }, ui.data.code));
    if (finish && finish.method === "get") {
      body.appendChild(el("a", { href: finish.url, className: "submit" }, t.return_link));
    } else if (finish && finish.method === "post") {
      const form = el("form", { method: "post", action: finish.url });
      for (const [k, v] of Object.entries(finish.fields)) form.appendChild(el("input", { type: "hidden", name: k, value: v }));
      form.appendChild(el("button", { type: "submit", className: "submit" }, t.return_link));
      body.appendChild(form);
    }
    return ui.message(t.finished_title, null, body);
  };

  ui.update = (data, reply) => {
    const old = ui.data;
    ui.data = data;
    const isTask = data.view === "task" || data.view === "training";
    const layout = `${isTask ? "task" : data.view}|${data.lang}|${data.is_admin}`;
    const sameItem = old && isTask && old.view === data.view && old.item && data.item && old.item.id === data.item.id;
    if (reply || !sameItem) { ui.answers = {}; ui.shown = performance.now(); }
    ui.busy = false;
    root.setAttribute("lang", data.lang);
    if (isTask) {
      if (layout !== ui.layout) ui.buildTask();
      ui.fillTask();
    } else {
      ui.task = null;
      const p = ui.progress();
      ui.fillProgress(p);
      let body;
      if (data.view === "feedback") body = ui.feedbackView();
      else if (data.view === "finished") body = ui.finishedView();
      else body = ui.message(data.title, data.message);
      root.replaceChildren(p.bar, body);
    }
    ui.layout = isTask ? layout : null;
    root.dataset.view = data.view;
    root.dataset.item = data.item ? String(data.item.id) : "";
    root.setAttribute("aria-busy", "false");
  };

  ui.onKey = (e) => {
    const target = e.composedPath()[0]; // inside the shadow root, not its host
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
    if (e.ctrlKey || e.metaKey || e.altKey || !ui.data) return;
    const view = ui.data.view;
    if (view === "feedback" && e.key === "Enter") { e.preventDefault(); ui.send("nav", "next"); return; }
    if (view !== "task" && view !== "training") return;
    if (KEYS[e.key]) { e.preventDefault(); ui.pick(...KEYS[e.key]); }
    else if (e.key === "Enter" && !(target && target.tagName === "BUTTON" && target !== ui.task.submit)) { e.preventDefault(); ui.submit(); }
    else if ((e.key === "u" || e.key === "U") && ui.data.can_undo) { e.preventDefault(); ui.send("undo", true); }
  };
  return ui;
}

export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  let ui = parentElement.__evaltool;
  if (!ui) {
    ui = makeUi(parentElement);
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
