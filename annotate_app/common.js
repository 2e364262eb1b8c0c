// What the labelling task and the chat share (this file is put before each component's own).
// Every text from the server is set with textContent: nothing from it becomes markup.

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "className") node.className = v;
    else node.setAttribute(k, v);
  }
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// The platform's way back for a finished worker: a link, or MTurk's form to submit; or null.
function wayBack(finish, label) {
  if (finish && finish.method === "get") return el("a", { href: finish.url, className: "submit" }, label);
  if (!finish || finish.method !== "post") return null;
  const form = el("form", { method: "post", action: finish.url });
  for (const [k, v] of Object.entries(finish.fields)) form.appendChild(el("input", { type: "hidden", name: k, value: v }));
  form.appendChild(el("button", { type: "submit", className: "submit" }, label));
  return form;
}
