// nmfaudio listening report: draws the pictures and plays every part in sync.
//
// Each part is an <audio> element on the WAV file beside the page. One transport
// plays, pauses and seeks them all; a part is audible unless it is muted, or
// another part is soloed and it is not. Served over http(s) the parts are mixed
// in the Web Audio API (a GainNode each). Opened from disk (file://), the
// browser does not let Web Audio read local files (a media element source would
// play silence), so each part's own volume is switched instead.
"use strict";

(function () {
  const data = JSON.parse(document.getElementById("nmfaudio-data").textContent);

  // ---- pictures --------------------------------------------------------------------

  // A perceptually ordered dark-to-bright colour map (after matplotlib's "magma").
  const STOPS = [
    [0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99],
    [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 253, 191],
  ];
  const COLOURS = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = (i / 255) * (STOPS.length - 1);
    const a = Math.min(Math.floor(x), STOPS.length - 2);
    const t = x - a;
    for (let c = 0; c < 3; c++) {
      COLOURS[3 * i + c] = STOPS[a][c] + t * (STOPS[a + 1][c] - STOPS[a][c]);
    }
  }

  function decode(base64) {
    const text = atob(base64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes;
  }

  // One pixel per column and band, low frequencies at the bottom; the same dB scale
  // for every part and the mixture (the levels are quantised against the mixture).
  function drawSpectrogram(canvas, picture) {
    const bands = data.bands;
    const columns = picture.columns;
    const levels = decode(picture.bytes);
    canvas.width = columns;
    canvas.height = bands;
    const context = canvas.getContext("2d");
    const image = context.createImageData(columns, bands);
    for (let band = 0; band < bands; band++) {
      const y = bands - 1 - band;
      for (let column = 0; column < columns; column++) {
        const level = levels[band * columns + column];
        const pixel = 4 * (y * columns + column);
        image.data[pixel] = COLOURS[3 * level];
        image.data[pixel + 1] = COLOURS[3 * level + 1];
        image.data[pixel + 2] = COLOURS[3 * level + 2];
        image.data[pixel + 3] = 255;
      }
    }
    context.putImageData(image, 0, 0);
  }

  // The score's notes over a part's spectrogram: a line at each note's fundamental for its
  // duration, a tick at the bottom for each drum hit ([start, end, band], times as fractions).
  function drawNotes(canvas, notes) {
    const context = canvas.getContext("2d");
    context.fillStyle = "rgba(127, 219, 255, 0.9)";
    for (const [start, end, band] of notes) {
      const x = Math.floor(start * canvas.width);
      const width = Math.max(1, Math.round((end - start) * canvas.width));
      if (band < 0) context.fillRect(x, canvas.height - 8, 1, 8);
      else context.fillRect(x, canvas.height - 1 - band, width, 1);
    }
  }

  // A curve of values in [0, 1]: a template over log frequency, an activation over time.
  function drawShape(canvas, values) {
    canvas.className = "shape";
    canvas.width = 240;
    canvas.height = 64;
    const context = canvas.getContext("2d");
    context.strokeStyle = "#2a6fdb";
    context.lineWidth = 1.5;
    context.beginPath();
    values.forEach((v, i) => {
      const x = (i / Math.max(1, values.length - 1)) * (canvas.width - 2) + 1;
      const y = canvas.height - 2 - v * (canvas.height - 4);
      if (i === 0) context.moveTo(x, y);
      else context.lineTo(x, y);
    });
    context.stroke();
  }

  // ---- the page --------------------------------------------------------------------

  function element(tag, properties, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, properties || {});
    for (const child of children) node.append(child);
    return node;
  }

  function formatTime(seconds) {
    const minutes = Math.floor(seconds / 60);
    return `${minutes}:${(seconds - 60 * minutes).toFixed(1).padStart(4, "0")}`;
  }

  // A time ruler over the spectrograms: about ten ticks at a round step, m:ss.
  function ruler(duration) {
    const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
    const step = steps.find((s) => duration / s <= 10) || steps[steps.length - 1];
    const node = element("div", { className: "ruler" });
    for (let t = 0; t <= duration + 1e-9; t += step) {
      const minutes = Math.floor(t / 60);
      const seconds = t - 60 * minutes;
      const text = `${minutes}:${String(Math.floor(seconds)).padStart(2, "0")}`;
      const tick = element("span", { textContent: text });
      tick.style.left = `${(100 * t) / duration}%`;
      if (t + step > duration + 1e-9 && t > 0) tick.className = "last"; // inside the column
      node.append(tick);
    }
    return node;
  }

  function formatLevel(level) {
    return level === null ? "silent" : `${level.toFixed(1)} dB`;
  }

  document.getElementById("title").textContent = data.title;
  const partsSection = document.getElementById("parts");
  partsSection.append(
    element("div", { className: "row heading" },
      element("span", { textContent: "part" }), element("span", { textContent: "spectrogram" }),
      element("span", { textContent: "template" }), element("span", { textContent: "activation" }),
      element("span", { className: "level", textContent: "level" }), element("span")),
    element("div", { className: "row ruler-row" },
      element("span"), ruler(data.duration), element("span"), element("span"), element("span"),
      element("span")),
  );

  const mixtureCanvas = element("canvas", { className: "spectrogram", title: "all parts" });
  drawSpectrogram(mixtureCanvas, data.mixture.spectrogram);
  partsSection.append(
    element("div", { className: "row mixture" },
      element("span", { className: "name", textContent: "mixture (all parts)" }),
      mixtureCanvas, element("span"), element("span"),
      element("span", { className: "level", textContent: formatLevel(data.mixture.level) }),
      element("span")),
  );

  const rows = data.rows.map((row, index) => {
    const audio = element("audio", { preload: "auto", src: encodeURIComponent(row.file) });
    const spectrogram = element("canvas", { className: "spectrogram" });
    drawSpectrogram(spectrogram, row.spectrogram);
    if (row.notes) drawNotes(spectrogram, row.notes);
    const template = element("canvas", { title: "template, low to high frequency" });
    const activation = element("canvas", { title: "activation over time" });
    if (row.template) drawShape(template, row.template);
    if (row.activation) drawShape(activation, row.activation);
    const key = index < 10 ? ` (${(index + 1) % 10})` : "";
    const solo = element("button", { type: "button", textContent: "S", title: `solo${key}` });
    const mute = element("button", { type: "button", textContent: "M", title: "mute" });
    solo.setAttribute("aria-pressed", "false");
    mute.setAttribute("aria-pressed", "false");
    const node = element("div", { className: "row part" },
      element("span", { className: "name", textContent: row.name }),
      spectrogram,
      row.template ? template : element("span"),
      row.activation ? activation : element("span"),
      element("span", { className: "level", textContent: formatLevel(row.level) }),
      element("span", { className: "buttons" }, solo, mute, audio));
    partsSection.append(node);
    return { name: row.name, audio, solo, mute, node, soloed: false, muted: false };
  });

  // ---- the mixer -------------------------------------------------------------------

  const webAudio = /^https?:$/.test(location.protocol) && "AudioContext" in window;
  const context = webAudio ? new AudioContext() : null;
  for (const row of rows) {
    if (context) {
      row.gain = context.createGain();
      context.createMediaElementSource(row.audio).connect(row.gain).connect(context.destination);
    }
  }
  const master = rows[0].audio;
  const playButton = document.getElementById("play");
  const bar = document.getElementById("position");
  const clock = document.getElementById("time");
  bar.max = data.duration.toFixed(2);
  let playing = false;
  let dragging = false;

  function audible(row) {
    const anySolo = rows.some((r) => r.soloed);
    return !row.muted && (!anySolo || row.soloed);
  }

  function updateGains() {
    for (const row of rows) {
      const on = audible(row);
      if (row.gain) row.gain.gain.value = on ? 1 : 0;
      else row.audio.muted = !on;
      row.node.classList.toggle("silent", !on);
      row.solo.setAttribute("aria-pressed", String(row.soloed));
      row.mute.setAttribute("aria-pressed", String(row.muted));
    }
  }

  function seek(seconds) {
    for (const row of rows) row.audio.currentTime = seconds;
    showPosition(seconds);
  }

  function showPosition(seconds) {
    if (!dragging) bar.value = seconds;
    clock.textContent = formatTime(seconds);
  }

  async function play() {
    if (context) await context.resume();
    const start = master.currentTime;
    for (const row of rows) row.audio.currentTime = start;
    await Promise.all(rows.map((row) => row.audio.play()));
    playing = true;
    playButton.textContent = "Pause";
    requestAnimationFrame(follow);
  }

  function pause() {
    for (const row of rows) row.audio.pause();
    playing = false;
    playButton.textContent = "Play";
  }

  function toggle() {
    if (playing) pause();
    else play().catch((error) => console.warn("nmfaudio report: cannot play:", error.message));
  }

  // While playing: move the bar, and pull any part that drifted back to the first one.
  function follow() {
    if (!playing) return;
    const now = master.currentTime;
    for (const row of rows) {
      if (Math.abs(row.audio.currentTime - now) > 0.05) row.audio.currentTime = now;
    }
    showPosition(now);
    requestAnimationFrame(follow);
  }

  master.addEventListener("ended", () => {
    pause();
    seek(0);
  });
  playButton.addEventListener("click", toggle);
  bar.addEventListener("input", () => {
    dragging = true;
    clock.textContent = formatTime(Number(bar.value));
  });
  bar.addEventListener("change", () => {
    dragging = false;
    seek(Number(bar.value));
  });
  document.getElementById("mixture").addEventListener("click", () => {
    for (const row of rows) row.soloed = row.muted = false;
    updateGains();
  });
  rows.forEach((row) => {
    row.solo.addEventListener("click", () => {
      row.soloed = !row.soloed;
      updateGains();
    });
    row.mute.addEventListener("click", () => {
      row.muted = !row.muted;
      updateGains();
    });
  });
  document.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement && event.target.type !== "range") return;
    if (event.key === " ") {
      event.preventDefault();
      toggle();
    } else if (/^[0-9]$/.test(event.key)) {
      const row = rows[(Number(event.key) + 9) % 10];
      if (row) {
        row.soloed = !row.soloed;
        updateGains();
      }
    }
  });
  updateGains();

  // ---- scores and settings -----------------------------------------------------------

  function cell(value) {
    if (typeof value === "number" || value === null) {
      // Scores: a silent estimate's -inf arrives as null.
      const text = value === null ? "-inf" : value.toFixed(2);
      return element("td", { className: "number", textContent: text });
    }
    return element("td", { textContent: value });
  }

  function table(head, body) {
    const header = element("tr", {}, ...head.map((h) => element("th", { textContent: h })));
    const lines = body.map((cells) => element("tr", {}, ...cells.map(cell)));
    return element("table", {}, element("thead", {}, header), element("tbody", {}, ...lines));
  }

  if (data.evaluation) {
    const metrics = ["sdr", "sir", "sar", "si_sdr"];
    const scores = document.getElementById("scores");
    scores.hidden = false;
    scores.append(
      element("h2", { textContent: "BSS Eval against the references (dB)" }),
      table(["reference", "estimate", "SDR", "SIR", "SAR", "SI-SDR"], [
        ...data.evaluation.sources.map((s) => [s.reference, s.estimate, ...metrics.map((m) => s[m])]),
        ["mean", "", ...metrics.map((m) => data.evaluation.mean[m])],
      ]));
  }
  document.getElementById("settings").append(
    element("h2", { textContent: "Settings" }), table(["", ""], data.settings));

  // For tests and the curious: the mixer's state, read from what makes the sound.
  window.nmfaudioReport = {
    mode: context ? "web-audio" : "media-elements",
    rows: rows.map((row) => row.name),
    gains: () => rows.map((row) => (row.gain ? row.gain.gain.value : row.audio.muted ? 0 : 1)),
    durations: () => rows.map((row) => row.audio.duration),
    position: () => master.currentTime,
    playing: () => playing,
    play,
    pause,
    seek,
  };
})();
