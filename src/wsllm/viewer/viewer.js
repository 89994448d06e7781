// wsllm view: the stored runs, a run's matrix, one test's stream, and two runs compared.
// Every piece of stored text goes into the page as text, never as markup.
(() => {
  'use strict';
  const app = document.getElementById('app');
  const live = document.getElementById('live');
  let navigation = 0;  // bumped on every route change: late answers for an old page are dropped
  let poll = null;     // the refresh timer of the page on screen, while its run is going
  const REFRESH_MS = 2000;
  const REDACTED = '[redacted]';

  // ---- DOM and formatting helpers
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === 'class') node.className = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const svgNS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, text) {
    const node = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  const none = (v) => v === null || v === undefined;
  const ms = (v) => none(v) ? '–' : (v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v).toLocaleString('en-US')} ms`);
  const pct = (v) => none(v) ? '–' : `${Math.round(v * 10) / 10}%`;
  const secs = (v) => none(v) ? '–' : (v < 60 ? `${v.toFixed(1)} s` : `${Math.floor(v / 60)} min ${Math.round(v % 60)} s`);
  const text = (v) => none(v) ? '' : (typeof v === 'string' ? v : JSON.stringify(v));
  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s);
  const badge = (status, label) => el('span', { class: `badge ${status}` }, (label || status).toUpperCase());
  const DATES = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
  const when = (iso) => DATES.format(new Date(iso));  // one formatter: making one per call is slow
  function ago(iso) {
    const s = (Date.now() - new Date(iso).getTime()) / 1000;
    if (s < 60) return 'just now';
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86400) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} days ago`;
  }
  const card = (label, value, extra) => el('div', { class: `card ${(extra && extra.alarm) ? 'alarm' : ''}`, 'data-card': label,
    title: (extra && extra.title) || null }, el('b', {}, String(value)), label,
    (extra && extra.note) ? el('div', { class: 'dim' }, extra.note) : null);
  const shortPath = (p) => { const parts = (p || '').split('/'); return parts.length > 2 ? `…/${parts.slice(-2).join('/')}` : (p || ''); };

  async function api(path) {
    const response = await fetch(path);
    const body = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }
  function show(...nodes) { app.replaceChildren(...nodes.flat(Infinity).filter((n) => !none(n) && n !== false)); }
  function problem(error) { show(el('div', { class: 'problem' }, String(error.message || error))); }
  function setHash(hash) { history.replaceState(null, '', hash); }  // no hashchange: the page updates itself
  function debounce(fn, wait) {
    let t = null;
    return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), wait); };
  }
  function every(fn, token) {
    clearInterval(poll);
    poll = setInterval(() => { if (token !== navigation) clearInterval(poll); else fn(); }, REFRESH_MS);
  }
  function stopPolling() { clearInterval(poll); poll = null; live.hidden = true; }

  // ---- what a run is: status, progress, figures
  const STATUS_NOTE = {
    finished: 'every planned test ran',
    running: 'running now: updates as results arrive',
    interrupted: 'stopped early (Ctrl-C or a signal)',
    incomplete: 'ended without finishing: its process died',
  };
  function progress(r) {
    const planned = Math.max(r.planned, r.done, 1);
    const width = (n) => `width:${(100 * n) / planned}%`;
    return el('div', { class: 'progress' },
      el('div', { class: 'tests-of' }, r.done === r.planned ? `${r.done} tests` : `${r.done} of ${r.planned}`),
      el('div', { class: 'segments', title: `${r.passed} passed, ${r.failed} failed, ${r.errors} errors, ${Math.max(0, r.planned - r.done)} not run` },
        el('span', { class: 'seg-pass', style: width(r.passed) }), el('span', { class: 'seg-fail', style: width(r.failed) }),
        el('span', { class: 'seg-error', style: width(r.errors) })));
  }
  function passRate(r) {
    if (none(r.pass_rate)) return '–';
    return r.done === r.planned ? pct(r.pass_rate) : `${pct(r.pass_rate)} of ${r.done}`;
  }
  const ofWhatRan = (r) => (r.done === r.planned || !r.done ? null : `of the ${r.done} that ran`);
  function gapCell(r) {
    return [ms(r.gap_max_ms), r.stalled ? el('div', { class: 'warn' }, `${r.stalled} stalled`) : null];
  }
  function describe(r) {
    const targets = [...new Set((r.columns || []).map((c) => c.target))];
    const prompts = new Set((r.columns || []).map((c) => c.prompt_idx)).size;
    if (!targets.length) return '';
    return `${targets.length === 1 ? targets[0] : `${targets.length} targets`} × ${prompts} prompt${prompts === 1 ? '' : 's'}`;
  }

  // ---- the routes
  function route() {
    navigation += 1;
    stopPolling();
    const [path, query] = location.hash.slice(1).split('?');
    const parts = (path || '/').split('/').filter(Boolean).map(decodeURIComponent);
    const params = new URLSearchParams(query || '');
    const token = navigation;
    let page;
    if (parts[0] === 'run' && parts[2] === 'result') page = detail(parts[1], parts[3], token);
    else if (parts[0] === 'run') page = run(parts[1], params, token);
    else if (parts[0] === 'compare' && parts[3] === 'pair') page = pair(parts[1], parts[2], parts[4], parts[5], token);
    else if (parts[0] === 'compare') page = compare(parts[1], parts[2], params, token);
    else page = runs(params, token);
    page.catch((error) => { if (token === navigation) problem(error); });
  }
  window.addEventListener('hashchange', route);

  // ---- the runs, newest first; pick two to compare
  async function runs(params, token) {
    const picked = new Map();  // id -> run
    let q = params.get('q') || '';
    const compareButton = el('button', { disabled: true, id: 'compare', onclick: () => {
      const [a, b] = [...picked.values()].sort((x, y) => (x.created_at < y.created_at ? -1 : 1));  // older first
      location.hash = `#/compare/${encodeURIComponent(a.id)}/${encodeURIComponent(b.id)}`;
    } }, 'Compare two runs');
    const title = el('h1', {}, 'Runs');
    const body = el('div', {});
    const search = el('input', { type: 'search', placeholder: 'Search runs (description, id, file)', value: q,
      'aria-label': 'search runs', oninput: debounce((e) => { q = e.target.value; setHash(q ? `#/?q=${encodeURIComponent(q)}` : '#/'); load(); }, 200) });

    async function load() {
      const data = await api(`/api/runs?limit=1000${q ? '&q=' + encodeURIComponent(q) : ''}`);
      if (token !== navigation) return;
      title.textContent = q ? `Runs matching “${q}” (${data.total})` : `Runs (${data.total})`;
      body.replaceChildren(data.runs.length ? runsTable(data.runs, picked, compareButton)
        : el('div', { class: 'empty' }, q ? 'No run matches.' : 'No runs stored yet: run `wsllm eval`.'));
      const going = data.runs.some((r) => r.status === 'running');
      live.hidden = !going;
      if (going && !poll) every(load, token);
      if (!going) stopPolling();
    }
    show(title, el('div', { class: 'toolbar' }, search, compareButton,
      el('span', { class: 'dim' }, 'pick two runs to compare them')), body);
    await load();
  }

  function runsTable(list, picked, compareButton) {
    const rows = list.map((r) => {
      const box = el('input', { type: 'checkbox', 'aria-label': `pick ${r.id}`, onclick: (e) => {
        e.stopPropagation();
        if (e.target.checked) picked.set(r.id, r); else picked.delete(r.id);
        compareButton.disabled = picked.size !== 2;
      } });
      if (picked.has(r.id)) box.checked = true;
      return el('tr', { class: `clickable run-row status-${r.status}`, 'data-run': r.id,
        onclick: () => { location.hash = `#/run/${encodeURIComponent(r.id)}`; } },
        el('td', {}, box),
        el('td', {}, when(r.created_at), el('div', { class: 'dim' }, ago(r.created_at)), el('div', { class: 'dim mono' }, r.id)),
        el('td', {}, r.description || el('span', { class: 'dim' }, '(no description)'),
          el('div', { class: 'dim', title: r.config_path || '' }, shortPath(r.config_path)), el('div', { class: 'dim' }, describe(r))),
        el('td', { class: 'status' }, badge(r.status), el('div', { class: 'dim' }, STATUS_NOTE[r.status] || '')),
        el('td', { class: 'tests' }, progress(r)),
        el('td', { class: 'num rate' }, pct(r.pass_rate), ofWhatRan(r) ? el('div', { class: 'dim' }, ofWhatRan(r)) : null),
        el('td', { class: 'num ttft' }, ms(r.ttft_p50_ms)),
        el('td', { class: 'num gap' }, gapCell(r)),
        el('td', { class: 'num' }, secs(r.duration_s)));
    });
    const heads = [['', ''], ['started', ''], ['config', ''], ['status', ''], ['tests', ''], ['pass rate', 'num'],
      ['TTFT p50', 'num', 'TTFT (time to first delta), median over the run'],
      ['largest gap', 'num', 'the longest silence in any stream, counting a stall before a cut'], ['duration', 'num']];
    return el('table', { id: 'runs' },
      el('thead', {}, el('tr', {}, heads.map(([h, c, t]) => el('th', { class: c, title: t || null }, h)))),
      el('tbody', {}, rows));
  }

  // ---- one run: its matrix of tests and targets, filtered and searched as you type
  async function run(id, params, token) {
    const state = { status: params.get('status') || '', q: params.get('q') || '', page: Number(params.get('page') || 0) };
    const size = 100;
    const head = el('div', {}), cards = el('div', { class: 'cards', id: 'run-cards' }), table = el('div', {});
    const pager = el('div', { class: 'toolbar' }), config = el('div', {});
    const filters = ['', 'pass', 'fail', 'error'].map((s) => el('button', { 'data-filter': s || 'all',
      onclick: () => { state.status = s; state.page = 0; load(); } }, s || 'all'));
    const search = el('input', { type: 'search', placeholder: 'Search vars, outputs, errors', value: state.q,
      'aria-label': 'search tests', oninput: debounce((e) => { state.q = e.target.value; state.page = 0; load(); }, 200) });
    let shownConfig = false;

    async function load() {
      const query = new URLSearchParams({ limit: size, offset: state.page * size });
      if (state.status) query.set('status', state.status);
      if (state.q) query.set('q', state.q);
      const [info, data] = await Promise.all([api(`/api/runs/${encodeURIComponent(id)}`),
        api(`/api/runs/${encodeURIComponent(id)}/matrix?${query}`)]);
      if (token !== navigation) return;
      const keep = new URLSearchParams();
      for (const [k, v] of Object.entries(state)) if (v && v !== 0) keep.set(k, v);
      setHash(`#/run/${encodeURIComponent(id)}${[...keep].length ? '?' + keep : ''}`);
      head.replaceChildren(...runHead(info));
      cards.replaceChildren(...runCards(info));
      filters.forEach((b) => {
        const s = b.dataset.filter === 'all' ? '' : b.dataset.filter;
        const count = { '': info.done, pass: info.passed, fail: info.failed, error: info.errors }[s];
        b.className = s === state.status ? 'on' : '';
        b.textContent = `${s || 'all'} (${count})`;
      });
      table.replaceChildren(matrix(id, info, data));
      const pages = Math.max(1, Math.ceil(data.total / size));
      pager.replaceChildren(
        el('button', { disabled: state.page === 0, onclick: () => { state.page -= 1; load(); } }, '← previous page'),
        el('span', { class: 'dim', id: 'page' }, `page ${state.page + 1} of ${pages} · ${data.total} tests`),
        el('button', { disabled: state.page + 1 >= pages, onclick: () => { state.page += 1; load(); } }, 'next page →'));
      if (!shownConfig) { config.replaceChildren(configSection(info.config)); shownConfig = true; }
      live.hidden = info.status !== 'running';
      if (info.status === 'running' && !poll) every(load, token);
      if (info.status !== 'running') stopPolling();
    }
    show(head, cards,
      el('div', { class: 'toolbar' }, filters, search, el('span', { class: 'spacer' }),
        el('a', { class: 'button', href: `/api/runs/${encodeURIComponent(id)}/export.json` }, 'Export JSON'),
        el('a', { class: 'button', href: `/api/runs/${encodeURIComponent(id)}/export.csv` }, 'Export CSV')),
      table, pager, el('p', { class: 'dim' }, 'TTFT: time to first delta, from the request sent to the first content frame. ',
        'Largest gap: the longest silence between content frames; when a stream is cut before its final frame ',
        '(a deadline, an early close), the silence from its last content frame to the cut counts as a gap: a stall.'),
      config);
    await load();
  }

  function runHead(info) {
    return [
      el('h1', {}, info.description || info.id, ' ', badge(info.status)),
      el('div', { class: 'sub' }, `${info.id} · ${info.config_path || ''} · started ${when(info.created_at)} (${ago(info.created_at)})`,
        info.done === info.planned ? '' : el('span', { class: 'warn' }, ` · ${info.done} of ${info.planned} tests ran`),
        ` · ${STATUS_NOTE[info.status] || ''}`),
    ];
  }

  function runCards(info) {
    const stalled = info.stalled || 0;
    return [
      card('tests', info.done === info.planned ? String(info.done) : `${info.done} of ${info.planned}`,
        { note: info.done === info.planned ? null : 'ran of those planned' }),
      card('pass / fail / error', `${info.passed} / ${info.failed} / ${info.errors}`),
      card('pass rate', pct(info.pass_rate), { note: ofWhatRan(info) }),
      card('TTFT p50', ms(info.ttft_p50_ms), { title: 'TTFT (time to first delta), median' }),
      card('TTFT p95', ms(info.ttft_p95_ms), { title: 'TTFT (time to first delta), 95th percentile' }),
      card('largest gap', ms(info.gap_max_ms), { title: 'the longest silence in any stream of the run' }),
      card('stalled streams', stalled, { alarm: stalled > 0, title: 'streams cut before their final frame after a silence' }),
      card('duration', secs(info.duration_s)),
    ];
  }

  function matrix(id, info, data) {
    if (!data.rows.length) return el('div', { class: 'empty' }, info.done ? 'No tests match.' : 'No results stored yet.');
    const varNames = [...new Set(data.rows.flatMap((r) => Object.keys(r.vars)))].slice(0, 4);
    const described = data.rows.some((r) => r.description);
    const header = el('tr', {}, el('th', {}, '#'), described ? el('th', {}, 'test') : null, varNames.map((v) => el('th', {}, v)),
      info.columns.map((c) => el('th', { title: c.prompt }, `[${c.target}] ${clip(c.prompt, 40)}`)));
    const body = data.rows.map((row) => {
      const byColumn = new Map(row.cells.map((c) => [`${c.prompt_idx}:${c.target_idx}`, c]));
      return el('tr', { class: 'test-row' },
        el('td', { class: 'mono' }, row.test_idx + (row.repeat_idx ? `.${row.repeat_idx}` : '')),
        described ? el('td', {}, row.description || '') : null,
        varNames.map((v) => el('td', {}, clip(text(row.vars[v]), 80))),
        info.columns.map((c) => {
          const cell = byColumn.get(`${c.prompt_idx}:${c.target_idx}`);
          return cell ? matrixCell(id, cell) : el('td', { class: 'dim' }, info.status === 'running' ? 'waiting…' : 'not run');
        }));
    });
    return el('table', { id: 'matrix' }, el('thead', {}, header), el('tbody', {}, body));
  }

  function matrixCell(id, cell) {
    const stalled = !none(cell.stalled_ms);
    const figures = [`TTFT ${ms(cell.first_delta_ms)}`, `largest gap ${ms(cell.max_gap_ms)}`,
      plural(cell.deltas ?? cell.frames ?? 0, cell.deltas === null ? 'frame' : 'delta'), `total ${ms(cell.latency_ms)}`];
    return el('td', { class: `cell ${stalled ? 'stalled' : ''}`, 'data-index': cell.idx,
      onclick: () => { location.hash = `#/run/${encodeURIComponent(id)}/result/${cell.idx}`; } },
      badge(cell.status), ` ${cell.score.toFixed(2)}`,
      stalled ? el('div', { class: 'warn stall-note' }, `stalled ${ms(cell.stalled_ms)}, then cut`) : null,
      el('div', { class: 'dim' }, figures.join(' · ')),
      el('div', { class: 'out' }, clip(text(cell.error || cell.output), 160)));
  }

  function redactedPaths(value, path, found) {
    if (value === REDACTED || (typeof value === 'string' && value.includes(REDACTED))) found.push(path || '(config)');
    else if (Array.isArray(value)) value.forEach((v, i) => redactedPaths(v, `${path}[${i}]`, found));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) redactedPaths(v, path ? `${path}.${k}` : k, found);
    return found;
  }

  function configSection(config) {
    const found = redactedPaths(config, '', []);
    const note = el('div', { class: 'notice', id: 'redaction' },
      'Secrets are redacted when a run is stored: env values, auth headers (Authorization, Cookie, X-Api-Key…), ',
      'and anything that looks like a key (sk-…, tokens, passwords, ?token= in URLs). ',
      found.length ? `${found.length} value${found.length === 1 ? ' was' : 's were'} redacted in this run: ${found.join(', ')}.`
        : 'Nothing in this config looked secret.');
    return el('details', { id: 'config' }, el('summary', {}, 'Config (as stored, secrets redacted)'), note,
      el('pre', { class: 'chart' }, JSON.stringify(config, null, 2)));
  }

  // ---- what a frame is: the rules of client/frames.py
  const CONTROL = new Set(['ready', 'done', 'error', 'ping', 'pong', 'heartbeat', 'keepalive', 'status', 'ack', 'connected', 'reconnect']);
  function frameKind(data) {
    if (!data.startsWith('{')) return ['delta', 'data'];
    let m;
    try { m = JSON.parse(data); } catch { return ['delta', 'data']; }
    if (!m || typeof m !== 'object' || Array.isArray(m)) return ['delta', 'data'];
    const t = m.type;
    if (typeof t !== 'string' || t === 'delta') return ['delta', typeof t === 'string' ? t : 'data'];
    if (t === 'message' || t === 'response') return ['text', t];
    if (CONTROL.has(t)) return ['control', t];
    if (t.startsWith('response.')) return [t.endsWith('.delta') ? 'delta' : 'control', t];
    return ['delta', t];
  }

  // A stream's facts for the timeline: content frames, the largest gap, the stall, where it ends.
  function streamFacts(r) {
    const frames = r.frames_list.map(([t, data]) => { const [kind, type] = frameKind(data); return { t, kind, type }; });
    const content = frames.filter((f) => f.kind !== 'control').map((f) => f.t);
    let gap = null;
    for (let i = 1; i < content.length; i++) {
      if (!gap || content[i] - content[i - 1] > gap.size) gap = { from: content[i - 1], to: content[i], size: content[i] - content[i - 1] };
    }
    const last = content.length ? content[content.length - 1] : null;
    const stall = none(r.stalled_ms) || none(last) ? null : { from: last, to: last + r.stalled_ms, size: r.stalled_ms };
    const nothing = !content.length && r.status === 'error' ? { from: 0, to: Math.max(r.latency_ms || 0, frames.length ? frames[frames.length - 1].t : 0) } : null;
    const end = Math.max(1, frames.length ? frames[frames.length - 1].t : 0, stall ? stall.to : 0, nothing ? nothing.to : 0);
    // The server's `done` came last: the silence after it is the config's streamResponse not
    // finishing, not the server stalling.
    const afterDone = !r.frames_dropped && frames.length > 0 && frames[frames.length - 1].type === 'done';
    return { frames, content, gap, stall, nothing, end, afterDone };
  }

  function niceStep(span) {
    const raw = span / 6, power = 10 ** Math.floor(Math.log10(raw));
    return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  }

  function band(chart, x, from, to, y, h, fill, cls) {
    chart.appendChild(svg('rect', { x: x(from), y, width: Math.max(2, x(to) - x(from)), height: h, fill, class: cls }));
  }
  function label(chart, at, y, words, cls, anchor) {
    let x = at;
    if (!anchor) {  // keep a centred label inside the chart (about 6 px a character)
      const half = words.length * 3.2, width = Number(chart.getAttribute('viewBox').split(' ')[2]);
      x = Math.min(Math.max(at, half + 2), width - half - 2);
    }
    chart.appendChild(svg('text', { x, y, 'text-anchor': anchor || 'middle', class: cls }, words));
  }

  // The frames in time: a tick per frame, the TTFT bracket, the largest gap, and a stall drawn as
  // a red band from the last content frame to the cut. `scaleEnd` shares one scale between charts.
  function timeline(r, scaleEnd) {
    const facts = streamFacts(r);
    const width = Math.max(420, Math.min(app.clientWidth - 40, 1800) / (scaleEnd ? 2.15 : 1));
    const height = 150, left = 12, right = 18, base = 108;
    const end = Math.max(facts.end, scaleEnd || 0);
    const x = (t) => left + ((width - left - right) * Math.max(0, t)) / end;
    const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, height, class: 'timeline', role: 'img',
      'aria-label': 'frames over time' });
    chart.appendChild(svg('defs', {})).appendChild(stripes());
    if (facts.nothing) {
      band(chart, x, facts.nothing.from, facts.nothing.to, 34, base - 34, 'url(#stall-stripes)', 'nothing-band');
      label(chart, x(facts.nothing.to / 2), 28, `no content frame in ${ms(facts.nothing.to - facts.nothing.from)}`, 'label-stall');
    }
    if (facts.gap && facts.gap.size > 0) {
      band(chart, x, facts.gap.from, facts.gap.to, 40, base - 40, 'rgba(245,158,11,.22)', 'gap-band');
      label(chart, x((facts.gap.from + facts.gap.to) / 2), 52, `largest gap between deltas ${ms(facts.gap.size)}`, 'label-gap');
    }
    if (facts.stall) {
      band(chart, x, facts.stall.from, facts.stall.to, 34, base - 34, 'url(#stall-stripes)', 'stall-band');
      label(chart, x((facts.stall.from + facts.stall.to) / 2), 28, facts.afterDone
        ? `silence ${ms(facts.stall.size)} after \`done\` until the cut` : `stalled: silence ${ms(facts.stall.size)} until the cut`, 'label-stall');
      chart.appendChild(svg('line', { x1: x(facts.stall.to), x2: x(facts.stall.to), y1: 30, y2: base, stroke: '#dc2626', 'stroke-width': 2 }));
      label(chart, x(facts.stall.to) - 4, base - 4, 'cut', 'label-stall', 'end');
    }
    drawTicks(chart, x, facts, base);
    if (facts.content.length) {
      const first = facts.content[0];
      chart.appendChild(svg('line', { x1: x(0), x2: x(first), y1: 12, y2: 12, stroke: '#2563eb', 'stroke-width': 2 }));
      chart.appendChild(svg('line', { x1: x(0), x2: x(0), y1: 7, y2: 17, stroke: '#2563eb', 'stroke-width': 2 }));
      label(chart, Math.min(x(first) + 6, width - 160), 16, `TTFT ${ms(r.first_delta_ms ?? first)}`, 'label-ttft', 'start');
    }
    drawAxis(chart, x, end, base, width);
    return chart;
  }

  function stripes() {
    const pattern = svg('pattern', { id: 'stall-stripes', width: 8, height: 8, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' });
    pattern.appendChild(svg('rect', { width: 8, height: 8, fill: 'rgba(220,38,38,.10)' }));
    pattern.appendChild(svg('rect', { width: 3, height: 8, fill: 'rgba(220,38,38,.35)' }));
    return pattern;
  }

  const COLORS = { delta: '#2563eb', text: '#15803d', control: '#9ca3af' };
  function drawTicks(chart, x, facts, base) {
    let previous = null;
    for (const f of facts.frames) {
      const tall = f.kind === 'control' ? 16 : 44;
      const tick = svg('line', { x1: x(f.t), x2: x(f.t), y1: base - tall, y2: base, stroke: COLORS[f.kind],
        'stroke-width': f.kind === 'control' ? 1.5 : 2, class: `frame-tick kind-${f.kind}` });
      tick.appendChild(svg('title', {}, `${f.t.toFixed(1)} ms · ${f.type}${previous === null ? '' : ` · +${(f.t - previous).toFixed(1)} ms`}`));
      chart.appendChild(tick);
      previous = f.t;
    }
  }

  function drawAxis(chart, x, end, base, width) {
    chart.appendChild(svg('line', { x1: x(0), x2: x(end), y1: base, y2: base, stroke: '#9ca3af' }));
    const step = niceStep(end);
    for (let t = 0; t <= end + 1e-9; t += step) {
      chart.appendChild(svg('line', { x1: x(t), x2: x(t), y1: base, y2: base + 5, stroke: '#9ca3af' }));
      label(chart, Math.min(Math.max(x(t), 14), width - 24), base + 18, `${Math.round(t).toLocaleString('en-US')} ms`, 'axis');
    }
    label(chart, x(0), base + 34, 'request sent', 'axis', 'start');
  }

  function timelineBlock(r, scaleEnd) {
    const legend = el('div', { class: 'dim legend' },
      el('span', { style: 'color:#2563eb' }, '▮ delta'), el('span', { style: 'color:#15803d' }, '▮ whole text (message)'),
      el('span', { style: 'color:#9ca3af' }, '▮ control (ready, done…)'), el('span', { style: 'color:#b45309' }, '▬ largest gap'),
      el('span', { style: 'color:#dc2626' }, '▨ stall: silence until the cut'),
      r.frames_dropped ? el('span', {}, `(first ${r.frames_list.length} frames kept; ${r.frames_dropped} more not stored)`) : null);
    if (!r.frames_list.length && r.status !== 'error') return el('div', { class: 'empty' }, 'No frames were stored for this test.');
    return el('div', { class: 'chart timeline-block' }, timeline(r, scaleEnd), legend);
  }

  // 'stalled' when the stream went silent until its cut; 'after-done' when that silence came after
  // the server's `done` (the config never finished reading); null when it ended well.
  function stallKind(r) {
    if (none(r.stalled_ms)) return null;
    return streamFacts(r).afterDone ? 'after-done' : 'stalled';
  }
  const stallBadge = (r) => (stallKind(r) === 'stalled' ? [' ', badge('stalled')] : null);

  function stallBanner(r) {
    if (none(r.stalled_ms)) return null;
    const facts = streamFacts(r);
    const last = facts.content.length ? facts.content[facts.content.length - 1] : null;
    if (facts.afterDone) {
      return el('div', { class: 'stall-banner', id: 'stall' }, el('b', {}, 'The server ended this stream with `done`, '),
        `but the config's streamResponse never returned true, so the call waited ${ms(r.stalled_ms)} after its last content frame until it was cut.`);
    }
    return el('div', { class: 'stall-banner', id: 'stall' }, el('b', {}, 'This stream stalled. '),
      `Its last content frame came at ${ms(last)}; then nothing for ${ms(r.stalled_ms)} until the stream was cut `,
      '(the deadline, or the server closed it) before its final frame.');
  }

  function resultCards(r) {
    const kind = stallKind(r);
    return el('div', { class: 'cards' },
      card('TTFT (time to first delta)', ms(r.first_delta_ms)),
      card('largest gap', ms(r.max_gap_ms), { alarm: kind !== null }),
      kind === 'stalled' ? card('stalled before the cut', ms(r.stalled_ms), { alarm: true }) : null,
      kind === 'after-done' ? card('silent after `done`', ms(r.stalled_ms), { alarm: true }) : null,
      card('total', ms(r.latency_ms)),
      card('deltas', r.deltas ?? '–'), card('frames', r.frames), card('bytes', (r.bytes || 0).toLocaleString('en-US')),
      card('score', Number(r.score).toFixed(2)));
  }

  function assertions(r) {
    const components = (r.grading && r.grading.componentResults) || [];
    if (!r.grading) return el('div', { class: 'dim' }, 'Not graded: the call failed.');
    if (!components.length) return el('div', { class: 'dim' }, r.grading.reason);
    return el('table', { id: 'assertions' },
      el('thead', {}, el('tr', {}, ['verdict', 'assertion', 'reason'].map((h) => el('th', {}, h)))),
      el('tbody', {}, components.map((c) => el('tr', {},
        el('td', {}, badge(c.pass ? 'pass' : 'fail'), ` ${Number(c.score).toFixed(2)}`),
        el('td', { class: 'mono' }, c.assertion ? `${c.assertion.type}${c.assertion.value !== undefined ? ': ' + clip(text(c.assertion.value), 120) : ''}` : ''),
        el('td', {}, el('pre', {}, c.reason || ''))))));
  }

  function varsTable(vars) {
    const entries = Object.entries(vars || {});
    if (!entries.length) return el('div', { class: 'dim' }, 'No vars.');
    return el('table', { class: 'kv', id: 'vars' }, el('tbody', {}, entries.map(([k, v]) =>
      el('tr', {}, el('td', { class: 'mono' }, k), el('td', {}, el('pre', {}, text(v)))))));
  }

  function resultBody(r, scaleEnd) {
    const output = text(r.output);
    return [
      stallBanner(r), resultCards(r),
      el('h2', {}, 'Frames over time'), timelineBlock(r, scaleEnd),
      r.error ? [el('h2', {}, 'Error'), el('pre', { class: 'problem', id: 'error' }, r.error)] : null,
      el('h2', {}, 'Assertions'), assertions(r),
      output ? [el('h2', {}, 'Output'), el('pre', { id: 'output' }, output)] : null,
      el('h2', {}, 'Prompt'), el('pre', {}, r.prompt),
      el('h2', {}, 'Vars'), varsTable(r.vars),
    ];
  }

  function framesTable(r) {
    if (!r.frames_list.length) return null;
    return [el('h2', {}, `Frames (${r.frames_list.length}${r.frames_dropped ? `, ${r.frames_dropped} more not kept` : ''})`),
      el('table', { id: 'frames' }, el('tbody', {}, r.frames_list.slice(0, 300).map(([t, d]) =>
        el('tr', {}, el('td', { class: 'mono num' }, `${t.toFixed(1)} ms`), el('td', {}, el('pre', {}, clip(d, 300)))))))];
  }

  // ---- one result: what was sent and received, each verdict, and its stream in time
  async function detail(id, index, token) {
    const r = await api(`/api/runs/${encodeURIComponent(id)}/results/${encodeURIComponent(index)}`);
    if (token !== navigation) return;
    const info = await api(`/api/runs/${encodeURIComponent(id)}`);
    if (token !== navigation) return;
    const column = info.columns.find((c) => c.prompt_idx === r.prompt_idx && c.target_idx === r.target_idx);
    const go = (n) => { if (!none(n)) location.hash = `#/run/${encodeURIComponent(id)}/result/${n}`; };
    document.onkeydown = (e) => {
      if (e.target.tagName === 'INPUT' || token !== navigation) return;
      if (e.key === 'ArrowLeft' || e.key === 'k') go(r.previous);
      if (e.key === 'ArrowRight' || e.key === 'j') go(r.next);
    };
    show(
      el('div', { class: 'toolbar' },
        el('a', { class: 'button', href: `#/run/${encodeURIComponent(id)}` }, `← ${clip(info.description || info.id, 40)}`),
        el('span', { class: 'spacer' }),
        el('button', { id: 'previous', disabled: none(r.previous), onclick: () => go(r.previous) }, '← previous test'),
        el('span', { class: 'dim' }, `result ${r.idx + 1} of ${info.done}`),
        el('button', { id: 'next', disabled: none(r.next), onclick: () => go(r.next) }, 'next test →'),
        el('span', { class: 'dim' }, el('kbd', {}, '←'), ' ', el('kbd', {}, '→'))),
      el('h1', {}, r.description || `Test ${r.test_idx}${r.repeat_idx ? ` (repeat ${r.repeat_idx + 1})` : ''}`, ' ', badge(r.status),
        stallBadge(r)),
      el('div', { class: 'sub' }, column ? `[${column.target}] ${clip(column.prompt, 120)}` : ''),
      resultBody(r), framesTable(r));
  }

  // ---- two runs: who they are, what changed overall, and each test's change
  function change(a, b, lowerIsBetter, unit) {
    if (none(a) || none(b)) return el('span', { class: 'dim' }, '–');
    const diff = b - a;
    const shown = unit === '%' ? `${diff >= 0 ? '+' : ''}${Math.round(diff * 10) / 10} points`
      : (a ? `${diff >= 0 ? '+' : ''}${Math.round((diff / a) * 100)}%` : `${diff >= 0 ? '+' : ''}${ms(diff)}`);
    const good = lowerIsBetter ? diff < 0 : diff > 0;
    return el('span', { class: Math.abs(diff) < 1e-9 ? 'dim' : (good ? 'better' : 'worse') }, Math.abs(diff) < 1e-9 ? 'same' : shown);
  }

  function whoBlock(r, label) {
    return el('div', { class: 'who-run' }, el('h3', {}, `${label}: ${r.description || r.id}`),
      el('div', { class: 'dim mono' }, r.id), el('div', {}, `started ${when(r.created_at)} · `, badge(r.status)),
      el('div', {}, `pass rate ${passRate(r)} · ${r.done === r.planned ? `${r.done} tests` : `${r.done} of ${r.planned} tests`}`));
  }

  function overall(a, b) {
    const rows = [['pass rate', pct(a.pass_rate), pct(b.pass_rate), change(a.pass_rate, b.pass_rate, false, '%')],
      ['TTFT p50', ms(a.ttft_p50_ms), ms(b.ttft_p50_ms), change(a.ttft_p50_ms, b.ttft_p50_ms, true)],
      ['TTFT p95', ms(a.ttft_p95_ms), ms(b.ttft_p95_ms), change(a.ttft_p95_ms, b.ttft_p95_ms, true)],
      ['largest gap', ms(a.gap_max_ms), ms(b.gap_max_ms), change(a.gap_max_ms, b.gap_max_ms, true)],
      ['stalled streams', a.stalled, b.stalled, change(a.stalled, b.stalled, true)],
      ['duration', secs(a.duration_s), secs(b.duration_s), change(a.duration_s, b.duration_s, true)]];
    return el('table', { id: 'overall' },
      el('thead', {}, el('tr', {}, ['', 'A', 'B', 'change'].map((h) => el('th', { class: h ? 'num' : '' }, h)))),
      el('tbody', {}, rows.map(([k, x, y, c]) => el('tr', {}, el('td', {}, k), el('td', { class: 'num' }, String(x)),
        el('td', { class: 'num' }, String(y)), el('td', { class: 'num' }, c)))));
  }

  async function compare(a, b, params, token) {
    const data = await api(`/api/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
    if (token !== navigation) return;
    const onlyChanges = params.get('all') !== '1';
    const pairs = onlyChanges ? data.pairs.filter((p) => p.a_status !== p.b_status) : data.pairs;
    const [first, second] = data.runs;
    const columns = new Map((second.columns || []).map((c) => [`${c.prompt_idx}:${c.target_idx}`, c]));
    const base = `#/compare/${encodeURIComponent(a)}/${encodeURIComponent(b)}`;
    show(
      el('h1', {}, 'Compare two runs'),
      el('div', { class: 'who' }, whoBlock(first, 'A (older)'), whoBlock(second, 'B (newer)')),
      el('h2', {}, 'Overall'), overall(first, second),
      el('div', { class: 'cards' }, card('tests matched', data.pairs.length), card('changed result', data.changed),
        card('pass → not pass', data.regressions, { alarm: data.regressions > 0 }), card('not pass → pass', data.fixes)),
      el('div', { class: 'toolbar' },
        el('button', { class: onlyChanges ? 'on' : '', onclick: () => { location.hash = base; } }, 'changed results only'),
        el('button', { class: onlyChanges ? '' : 'on', onclick: () => { location.hash = `${base}?all=1`; } }, 'all tests'),
        el('span', { class: 'dim' }, 'click a row to see both tests side by side')),
      pairs.length ? el('table', { id: 'comparison' },
        el('thead', {}, el('tr', {}, ['test', 'target', 'result A → B', 'TTFT A → B', 'largest gap A → B', 'total A → B', 'change']
          .map((h) => el('th', {}, h)))),
        el('tbody', {}, pairs.map((p) => {
          const c = columns.get(`${p.prompt_idx}:${p.target_idx}`);
          return el('tr', { class: `clickable pair-row ${p.a_status !== p.b_status ? 'changed' : ''}`,
            onclick: () => { location.hash = `${base}/pair/${p.a_idx}/${p.b_idx}`; } },
            el('td', {}, p.description || clip(JSON.stringify(p.vars), 80)),
            el('td', { class: 'dim' }, c ? c.target : ''),
            el('td', {}, badge(p.a_status), el('span', { class: 'arrow' }, '→'), badge(p.b_status)),
            el('td', { class: 'mono' }, `${ms(p.a_ttft)} → ${ms(p.b_ttft)}`),
            el('td', { class: 'mono' }, `${ms(p.a_gap)} → ${ms(p.b_gap)}`, none(p.b_stalled) ? '' : el('div', { class: 'warn' }, 'B stalled')),
            el('td', { class: 'mono' }, `${ms(p.a_latency)} → ${ms(p.b_latency)}`),
            el('td', { class: 'mono' }, change(p.a_latency, p.b_latency, true)));
        })))
        : el('div', { class: 'empty' }, onlyChanges ? 'No test changed its result.' : 'The runs share no tests.'));
  }

  async function pair(a, b, aIdx, bIdx, token) {
    const [ra, rb, runA, runB] = await Promise.all([
      api(`/api/runs/${encodeURIComponent(a)}/results/${encodeURIComponent(aIdx)}`),
      api(`/api/runs/${encodeURIComponent(b)}/results/${encodeURIComponent(bIdx)}`),
      api(`/api/runs/${encodeURIComponent(a)}`), api(`/api/runs/${encodeURIComponent(b)}`)]);
    if (token !== navigation) return;
    const scale = Math.max(streamFacts(ra).end, streamFacts(rb).end);
    const side = (r, info, label) => el('section', { class: `side side-${label[0].toLowerCase()}` },
      el('h2', {}, `${label}: `, badge(r.status), stallBadge(r)),
      el('div', { class: 'dim' }, `${info.description || info.id} · ${when(info.created_at)}`), resultBody(r, scale));
    show(
      el('div', { class: 'toolbar' }, el('a', { class: 'button', href: `#/compare/${encodeURIComponent(a)}/${encodeURIComponent(b)}` }, '← the comparison')),
      el('h1', {}, ra.description || `Test ${ra.test_idx}`),
      el('div', { class: 'sub' }, 'Both timelines share one time scale.'),
      el('div', { class: 'pair' }, side(ra, runA, 'A (older)'), side(rb, runB, 'B (newer)')));
  }

  window.addEventListener('resize', debounce(() => { if (document.querySelector('.timeline')) route(); }, 300));
  route();
})();
