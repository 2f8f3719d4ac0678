/*
 * The browser client of the example arena (modules/arena.ts): plain JavaScript, no build step.
 * Logs in with device auth (the device id lives in localStorage; `?device=` overrides it), joins
 * the `arena` room with the Colyseus SDK (window.Colyseus, from /play/vendor/colyseus.js), draws
 * the synchronised state on a canvas and sends `input` from the keyboard, or in circles with
 * `?bot=1`. Other parameters: `?mode=` (which rooms you meet), `?key=` (the server key).
 *
 * `window.__arena` mirrors what the page knows, for tests and for poking at in the console.
 */
/* global window, document, localStorage, location, fetch, btoa, crypto, URLSearchParams, setInterval, requestAnimationFrame, Colyseus */
(function () {
  'use strict';

  const params = new URLSearchParams(location.search);
  const SERVER_KEY = params.get('key') || 'defaultkey';
  const MODE = params.get('mode') || 'casual';
  const BOT = params.get('bot') === '1';
  const DEVICE_KEY = 'tavern-arena-device';
  const PLAYER_RADIUS = 16;
  const COIN_RADIUS = 9;

  const arena = {
    joined: false,
    userId: null,
    username: null,
    sessionId: null,
    roomId: null,
    round: 0,
    phase: '',
    timeLeft: 0,
    players: {},
    coins: 0,
    results: null,
    lastError: null,
    inputsSent: 0,
  };
  window.__arena = arena;

  const canvas = document.getElementById('canvas');
  const ctx = canvas.getContext('2d');
  const statusEl = document.getElementById('status');
  const roundEl = document.getElementById('round');
  const scoresEl = document.getElementById('scores');
  const resultsEl = document.getElementById('results');
  const resultsBody = document.getElementById('results-body');

  let room = null;
  let direction = { x: 0, y: 0 };

  function status(text, isError) {
    statusEl.textContent = text;
    statusEl.className = isError ? 'error' : '';
  }

  function deviceId() {
    const fromUrl = params.get('device');
    if (fromUrl) return fromUrl;
    let id = localStorage.getItem(DEVICE_KEY);
    if (!id) {
      const random = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + String(Date.now());
      id = 'arena-' + random;
      localStorage.setItem(DEVICE_KEY, id);
    }
    return id;
  }

  async function api(method, path, auth, body) {
    const res = await fetch(path, {
      method,
      headers: { Authorization: auth, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(json.message || method + ' ' + path + ': HTTP ' + res.status);
    return json;
  }

  /** Device auth (creating the account the first time), then who we are. */
  async function login() {
    const session = await api('POST', '/v2/account/authenticate/device?create=true', 'Basic ' + btoa(SERVER_KEY + ':'), { id: deviceId() });
    const account = await api('GET', '/v2/account', 'Bearer ' + session.token);
    arena.userId = account.user.id;
    arena.username = account.user.username;
    return session.token;
  }

  async function start() {
    try {
      if (typeof Colyseus === 'undefined') throw new Error('the Colyseus SDK did not load (/play/vendor/colyseus.js): run npm install');
      status('logging in…');
      const token = await login();
      status('joining the arena…');
      const client = new Colyseus.Client(location.origin);
      client.auth.token = token;
      room = await client.joinOrCreate('arena', { mode: MODE });
      arena.joined = true;
      arena.sessionId = room.sessionId;
      arena.roomId = room.roomId;
      status('playing as ' + arena.username + (BOT ? ' (bot)' : ''));
      room.onStateChange(mirror);
      room.onMessage('round_end', showResults);
      room.onMessage('error', (err) => {
        arena.lastError = err;
        console.warn('server error', err);
        status('server: ' + err.message, true);
      });
      room.onMessage('server_shutdown', () => status('the server is restarting…'));
      room.onDrop(() => status('connection lost, reconnecting…', true));
      room.onReconnect(() => {
        status('playing as ' + arena.username);
        send(direction);
      });
      room.onLeave((code) => {
        arena.joined = false;
        room = null;
        status('left the room (' + code + '), joining again…', true);
        setTimeout(start, 1500);
      });
    } catch (err) {
      arena.lastError = { message: String(err && err.message ? err.message : err) };
      status(arena.lastError.message + ' — retrying…', true);
      setTimeout(start, 3000);
    }
  }

  /** Copies the room state into window.__arena (plain objects) and the scoreboard. */
  function mirror(state) {
    const players = {};
    state.players.forEach((p, id) => {
      players[id] = { x: p.x, y: p.y, name: p.name, score: p.score, color: p.color };
    });
    arena.players = players;
    arena.coins = state.coins.size;
    arena.round = state.round;
    arena.timeLeft = state.timeLeft;
    if (arena.phase !== state.phase) {
      arena.phase = state.phase;
      if (state.phase === 'playing') resultsEl.classList.remove('shown');
    }
    roundEl.textContent = 'Round ' + state.round + (state.phase === 'playing' ? ' — ' + state.timeLeft + ' s left' : ' — results');
    const rows = Object.entries(players).sort((a, b) => b[1].score - a[1].score || a[1].name.localeCompare(b[1].name));
    scoresEl.replaceChildren(...rows.map(([id, p]) => scoreRow(p.color, p.name, p.score, id === arena.sessionId)));
  }

  function scoreRow(color, name, score, me) {
    const li = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = color;
    li.append(swatch, name + ': ' + score);
    if (me) li.className = 'me';
    return li;
  }

  function showResults(msg) {
    arena.results = msg;
    const title = document.createElement('h2');
    title.textContent = 'Round ' + msg.round + ' results';
    const list = document.createElement('ul');
    list.className = 'ranking';
    for (const r of msg.results) {
      const li = document.createElement('li');
      li.textContent = '#' + r.rank + '  ' + r.name + ': ' + r.score;
      if (r.sessionId === arena.sessionId) li.className = 'me';
      list.append(li);
    }
    const next = document.createElement('p');
    next.className = 'hint';
    next.textContent = 'Next round in ' + msg.nextRoundIn + ' s. Best scores: GET /v2/leaderboard/' + msg.leaderboard;
    resultsBody.replaceChildren(title, list, next);
    resultsEl.classList.add('shown');
  }

  function send(dir) {
    if (!room || !arena.joined) return;
    room.send('input', dir);
    arena.inputsSent++;
  }

  function setDirection(x, y) {
    const len = Math.hypot(x, y);
    const dir = len > 1 ? { x: x / len, y: y / len } : { x, y };
    if (dir.x === direction.x && dir.y === direction.y) return;
    direction = dir;
    send(dir);
  }

  // Keyboard: arrows and WASD.
  const KEYS = {
    ArrowUp: 'up',
    KeyW: 'up',
    ArrowDown: 'down',
    KeyS: 'down',
    ArrowLeft: 'left',
    KeyA: 'left',
    ArrowRight: 'right',
    KeyD: 'right',
  };
  const held = new Set();
  function fromKeys() {
    setDirection((held.has('right') ? 1 : 0) - (held.has('left') ? 1 : 0), (held.has('down') ? 1 : 0) - (held.has('up') ? 1 : 0));
  }
  window.addEventListener('keydown', (e) => {
    const k = KEYS[e.code];
    if (!k) return;
    e.preventDefault();
    held.add(k);
    fromKeys();
  });
  window.addEventListener('keyup', (e) => {
    const k = KEYS[e.code];
    if (!k) return;
    held.delete(k);
    fromKeys();
  });
  window.addEventListener('blur', () => {
    held.clear();
    fromKeys();
  });

  // ?bot=1: drive in circles, ten new directions a second.
  if (BOT) {
    let angle = Math.random() * Math.PI * 2;
    setInterval(() => {
      angle += 0.35;
      direction = { x: Math.cos(angle), y: Math.sin(angle) };
      send(direction);
    }, 100);
  }

  function draw() {
    const state = room && room.state;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (state && state.width) {
      if (canvas.width !== state.width || canvas.height !== state.height) {
        canvas.width = state.width;
        canvas.height = state.height;
      }
      ctx.strokeStyle = '#252a34';
      ctx.lineWidth = 1;
      for (let x = 0; x < state.width; x += 40) line(x, 0, x, state.height);
      for (let y = 0; y < state.height; y += 40) line(0, y, state.width, y);
      ctx.fillStyle = '#4a5262';
      state.walls.forEach((w) => ctx.fillRect(w.x, w.y, w.w, w.h));
      state.coins.forEach((c) => {
        ctx.fillStyle = c.value > 1 ? '#5fd4ff' : '#f5c542';
        circle(c.x, c.y, c.value > 1 ? COIN_RADIUS + 2 : COIN_RADIUS);
      });
      ctx.textAlign = 'center';
      ctx.font = '12px system-ui, sans-serif';
      state.players.forEach((p, id) => {
        ctx.fillStyle = p.color;
        circle(p.x, p.y, PLAYER_RADIUS);
        if (id === arena.sessionId) {
          ctx.strokeStyle = '#ffffff';
          ctx.lineWidth = 3;
          ctx.beginPath();
          ctx.arc(p.x, p.y, PLAYER_RADIUS + 3, 0, Math.PI * 2);
          ctx.stroke();
        }
        ctx.fillStyle = '#e8e8e8';
        ctx.fillText(p.name + ' · ' + p.score, p.x, p.y - PLAYER_RADIUS - 8);
      });
    }
    requestAnimationFrame(draw);
  }

  function line(x1, y1, x2, y2) {
    ctx.beginPath();
    ctx.moveTo(x1, y1);
    ctx.lineTo(x2, y2);
    ctx.stroke();
  }

  function circle(x, y, r) {
    ctx.beginPath();
    ctx.arc(x, y, r, 0, Math.PI * 2);
    ctx.fill();
  }

  requestAnimationFrame(draw);
  void start();
})();
