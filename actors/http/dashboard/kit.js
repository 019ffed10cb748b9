// What the dashboard's modules share: building elements (values always as text) and reading
// OpenStack's error bodies.

export const $ = (selector) => document.querySelector(selector);

/** An element with properties (`class`, `data-*`, the rest as properties) and children. */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  e.append(...children.filter((c) => c !== undefined && c !== null));
  return e;
}

/** The message of an OpenStack error body: Nova's `{kind: {message}}`, Keystone's `{error}`, Placement's `{errors}`. */
export function faultText(body, status) {
  if (body && typeof body === 'object') {
    if (Array.isArray(body.errors) && body.errors[0]) return body.errors[0].detail || body.errors[0].title;
    const first = Object.values(body)[0];
    if (first && typeof first === 'object' && typeof first.message === 'string') return first.message;
  }
  return `HTTP ${status}`;
}

/** A usage bar: `used` of `capacity`, amber from 80 %. */
export function bar(used, capacity) {
  const share = capacity > 0 ? Math.min(1, used / capacity) : 0;
  const fill = el('span');
  fill.style.width = `${Math.round(share * 100)}%`; // through the CSSOM: the page's policy refuses inline styles
  return el(
    'div',
    { class: `bar${share >= 0.8 ? ' high' : ''}`, title: `${used} of ${capacity}` },
    fill,
    el('em', {}, `${used} / ${capacity}`),
  );
}
