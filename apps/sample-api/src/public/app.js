// The chat page: join a room over SSE or WebSocket, show messages live, post, and make every
// dropped message visible. Plain browser JavaScript, no build step.

const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const $ = (id) => document.getElementById(id);

const ui = {
  joinForm: $('join-form'),
  room: $('room'),
  author: $('author'),
  state: $('state'),
  roomTitle: $('room-title'),
  messages: $('messages'),
  postForm: $('post-form'),
  text: $('text'),
  send: $('send'),
  error: $('error'),
  dropBanner: $('drop-banner'),
  dropCount: $('drop-count'),
  stats: $('stats'),
};

let connection = null;
let joiningNotice = null;
let droppedTotal = 0;
let reconnectGaps = 0;

ui.author.value =
  localStorage.getItem('hyps-author') || `guest-${Math.floor(Math.random() * 9000) + 1000}`;
const params = new URLSearchParams(location.search);
if (params.get('room')) ui.room.value = params.get('room');
if (params.get('transport') === 'ws') $('transport-ws').checked = true;

function setState(kind, text) {
  ui.state.className = `state state-${kind}`;
  ui.state.textContent = text;
  const live = kind === 'live';
  ui.text.disabled = !live;
  ui.send.disabled = !live;
  if (live) {
    if (joiningNotice)
      joiningNotice.textContent = joiningNotice.textContent
        .replace('Joining', 'Joined')
        .replace('…', '');
    joiningNotice = null;
    refreshStats();
  }
}

function showError(message, problems = []) {
  ui.error.hidden = false;
  ui.error.textContent = [
    message,
    ...problems.map((p) => `${p.field}: ${p.problems.join(', ')}`),
  ].join(' — ');
}

function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

function scrollDown() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function addNotice(text) {
  const li = document.createElement('li');
  li.className = 'notice';
  li.textContent = text;
  ui.messages.append(li);
  scrollDown();
  return li;
}

function addMessage(message) {
  const li = document.createElement('li');
  li.className = message.author === ui.author.value ? 'message mine' : 'message';
  const time = document.createElement('time');
  time.textContent = new Date(message.sentAt).toLocaleTimeString();
  const author = document.createElement('span');
  author.className = 'author';
  author.textContent = message.author;
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = message.text;
  li.append(time, author, text);
  ui.messages.append(li);
  scrollDown();
}

// The at-most-once contract made visible: a marker where messages went missing.
function markDropped({ scope, count }) {
  const li = document.createElement('li');
  li.className = 'drop-marker';
  if (scope === 'reconnect') {
    li.textContent = '⚠ Reconnected: messages sent while disconnected are lost';
  } else if (scope === 'broker-reconnect') {
    li.textContent =
      '⚠ The server lost its broker connection for a while: messages sent meanwhile are lost';
  } else if (scope === 'server') {
    li.textContent = `⚠ ${count} message(s) dropped by the broker for this server`;
  } else {
    li.textContent = `⚠ ${count} message(s) dropped here: this connection fell behind`;
  }
  if (typeof count === 'number') droppedTotal += count;
  else reconnectGaps++;
  const gaps = reconnectGaps > 0 ? ` + ${reconnectGaps} reconnect gap(s)` : '';
  ui.dropCount.textContent = `${droppedTotal} counted${gaps}`;
  ui.dropBanner.hidden = false;
  ui.messages.append(li);
  scrollDown();
}

function connectSse(room) {
  const source = new EventSource(`/rooms/${encodeURIComponent(room)}/events`);
  source.addEventListener('ready', () => setState('live', 'live over SSE'));
  source.addEventListener('message', (event) => addMessage(JSON.parse(event.data)));
  source.addEventListener('dropped', (event) => markDropped(JSON.parse(event.data)));
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) setState('error', 'disconnected');
    else setState('idle', 'reconnecting…');
  });
  return {
    close: () => source.close(),
    async post(author, text) {
      const response = await fetch(`/rooms/${encodeURIComponent(room)}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ author, text }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        showError(body.message || `HTTP ${response.status}`, body.errors);
      }
    },
  };
}

function connectWs(room) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  const send = (event, data) => socket.send(JSON.stringify({ event, data }));
  socket.addEventListener('open', () => send('join', { room }));
  socket.addEventListener('message', (event) => {
    const { event: type, data } = JSON.parse(event.data);
    if (type === 'joined') setState('live', 'live over WebSocket');
    else if (type === 'message') addMessage(data);
    else if (type === 'dropped') markDropped(data);
    else if (type === 'error') {
      showError(data.message, data.errors);
      if (data.request === 'join') setState('error', 'join refused');
    }
  });
  socket.addEventListener('close', () => setState('error', 'disconnected'));
  return {
    close: () => socket.close(),
    post: async (author, text) => send('post', { room, author, text }),
  };
}

ui.joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  clearError();
  const room = ui.room.value.trim();
  if (!ROOM_NAME.test(room)) {
    showError('Room names are 1-64 characters of A-Z, a-z, 0-9, "_" or "-"');
    return;
  }
  localStorage.setItem('hyps-author', ui.author.value);
  connection?.close();
  const transport = new FormData(ui.joinForm).get('transport');
  ui.messages.replaceChildren();
  ui.roomTitle.textContent = `#${room}`;
  joiningNotice = addNotice(`Joining #${room} over ${transport === 'ws' ? 'WebSocket' : 'SSE'}…`);
  setState('idle', 'connecting…');
  connection = transport === 'ws' ? connectWs(room) : connectSse(room);
});

ui.postForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const text = ui.text.value;
  if (!connection || text.trim() === '') return;
  clearError();
  ui.text.value = '';
  await connection.post(ui.author.value, text);
  ui.text.focus();
});

async function refreshStats() {
  try {
    const stats = await (await fetch('/stats')).json();
    const { subscribers: s, dropped: d } = stats;
    ui.stats.textContent =
      `hyps ${stats.hyps.status} · local subscribers: ${s.sse} SSE, ${s.ws} WS in ` +
      `${stats.hypsSubscriptions} room subscription(s) · dropped: broker ${d.hyps}, SSE ${d.sse}, WS ${d.ws}`;
  } catch {
    ui.stats.textContent = 'server unreachable';
  }
}

refreshStats();
setInterval(refreshStats, 2000);
