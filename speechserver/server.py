#!/usr/bin/env python3
"""speechserver: OpenAI-compatible speech-to-text over faster-whisper (CTranslate2).

    python server.py --model DIR [--addr 127.0.0.1:8178] [--threads 2] [--compute-type int8]

Endpoints
    POST /v1/audio/transcriptions   multipart: file (WAV), model, language, prompt,
                                    response_format (json|text|verbose_json|srt|vtt),
                                    temperature, timestamp_granularities[] (word|segment)
    POST /v1/audio/translations     same fields minus language (speech -> English text)
    GET  /v1/models, /v1/models/{id}
    GET  /healthz

Only the standard library serves HTTP. Audio must be RIFF/WAVE PCM (8/16/24/32-bit
integer or 32-bit float, any channel count and rate; mixed to mono and resampled to
16 kHz here), so neither ffmpeg nor PyAV is needed. Errors use OpenAI's shape:
{"error": {"message", "type", "param", "code"}}.
"""

from __future__ import annotations

import argparse
import dataclasses
import email.message
import email.parser
import email.policy
import hashlib
import hmac
import io
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
import types
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.util import find_spec

import numpy as np

SAMPLE_RATE = 16000
DEFAULT_MAX_BYTES = 50 * 1024 * 1024  # OpenAI's own upload limit is 25 MB
MIN_AUDIO_SECONDS = 0.1

# Whisper's language names (openai/whisper tokenizer.py), reported lowercase in
# verbose_json as OpenAI does ("chinese", "english").
LANGUAGES = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian",
    "ko": "korean", "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish",
    "pl": "polish", "ca": "catalan", "nl": "dutch", "ar": "arabic", "sv": "swedish",
    "it": "italian", "id": "indonesian", "hi": "hindi", "fi": "finnish", "vi": "vietnamese",
    "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay", "cs": "czech",
    "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian",
    "la": "latin", "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak",
    "te": "telugu", "fa": "persian", "lv": "latvian", "bn": "bengali", "sr": "serbian",
    "az": "azerbaijani", "sl": "slovenian", "kn": "kannada", "et": "estonian",
    "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian",
    "sw": "swahili", "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala",
    "km": "khmer", "sn": "shona", "yo": "yoruba", "so": "somali", "af": "afrikaans",
    "oc": "occitan", "ka": "georgian", "be": "belarusian", "tg": "tajik", "sd": "sindhi",
    "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao", "uz": "uzbek",
    "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan",
    "tl": "tagalog", "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian",
    "ln": "lingala", "ha": "hausa", "ba": "bashkir", "jw": "javanese", "su": "sundanese",
    "yue": "cantonese",
}
# Codes callers send that Whisper spells differently.
LANGUAGE_ALIASES = {"cmn": "zh", "wuu": "zh", "zh-cn": "zh", "zh-tw": "zh", "zh-hk": "zh", "jv": "jw"}
RESPONSE_FORMATS = ("json", "text", "verbose_json", "srt", "vtt")
GRANULARITIES = ("word", "segment")


def log(msg: str) -> None:
    sys.stderr.write(time.strftime("%Y-%m-%dT%H:%M:%S ") + msg + "\n")
    sys.stderr.flush()


class ClientGone(Exception):
    """The client closed its connection before its transcription started."""


class APIError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(self, status: int, message: str, param: str | None = None,
                 code: str | None = None, type_: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type_

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


# ---------------------------------------------------------------- multipart

def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """Parse a multipart/form-data body.

    Returns (fields, files): fields maps name -> text value (a repeated name such
    as "timestamp_granularities[]" is joined with "\\n"), files maps name ->
    (filename, bytes). The whole body is already in memory and bounded by the
    caller's size limit.
    """
    ctype = email.message.Message()
    ctype["content-type"] = content_type
    if ctype.get_content_type() != "multipart/form-data":
        raise APIError(400, "Content-Type must be multipart/form-data", code="invalid_content_type")
    boundary = ctype.get_param("boundary")
    if not boundary or not isinstance(boundary, str) or len(boundary) > 200:
        raise APIError(400, "multipart/form-data without a valid boundary", code="invalid_multipart")
    delim = b"--" + boundary.encode("latin-1")
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    # The body is: [preamble] delim CRLF part CRLF delim CRLF part ... CRLF delim "--" [epilogue]
    pos = body.find(delim)
    if pos < 0:
        raise APIError(400, "multipart body has no boundary line", code="invalid_multipart")
    pos += len(delim)
    header_parser = email.parser.BytesHeaderParser(policy=email.policy.HTTP)
    closed = False
    nparts = 0
    while True:
        if body.startswith(b"--", pos):
            closed = True
            break
        # Skip transport padding and the CRLF after the boundary.
        eol = body.find(b"\r\n", pos)
        if eol < 0 or body[pos:eol].strip(b" \t"):
            raise APIError(400, "malformed multipart boundary line", code="invalid_multipart")
        start = eol + 2
        nxt = body.find(b"\r\n" + delim, start)
        if nxt < 0:
            raise APIError(400, "multipart body is truncated (no closing boundary)", code="invalid_multipart")
        part = body[start:nxt]
        pos = nxt + 2 + len(delim)
        nparts += 1
        if nparts > 100:
            raise APIError(400, "too many multipart parts", code="invalid_multipart")
        hend = part.find(b"\r\n\r\n")
        if hend < 0:
            if part.startswith(b"\r\n"):  # a part with no headers at all
                continue
            raise APIError(400, "multipart part without a header block", code="invalid_multipart")
        headers = header_parser.parsebytes(part[:hend + 4])
        content = part[hend + 4:]
        disp = headers.get("content-disposition")
        if disp is None:
            continue
        name = headers.get_param("name", header="content-disposition")
        filename = headers.get_param("filename", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue
        if filename is not None:
            files[name] = (str(filename), content)
        else:
            value = content.decode("utf-8", errors="replace")
            fields[name] = fields[name] + "\n" + value if name in fields else value
    if not closed:
        raise APIError(400, "multipart body is truncated", code="invalid_multipart")
    return fields, files


# ---------------------------------------------------------------- audio

def _riff_fallback(data: bytes) -> tuple[np.ndarray, int, int]:
    """Read WAVE_FORMAT_EXTENSIBLE and IEEE-float WAVs, which Python 3.11's
    wave module rejects. Returns (interleaved float32 samples, channels, rate)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            if len(body) < 16:
                raise ValueError("short fmt chunk")
            tag, ch, rate, _, align, bits = struct.unpack_from("<HHIIHH", body)
            if tag == 0xFFFE and len(body) >= 40:
                tag = struct.unpack_from("<H", body, 24)[0]  # first 2 bytes of the SubFormat GUID
            fmt = (tag, ch, rate, align, bits)
        elif cid == b"data":
            if fmt is None:
                raise ValueError("data chunk before fmt chunk")
            tag, ch, rate, align, bits = fmt
            if ch < 1 or rate < 1:
                raise ValueError("bad channel count or sample rate")
            if tag == 3 and bits == 32:
                x = np.frombuffer(body[: len(body) // 4 * 4], dtype="<f4").astype(np.float32)
            elif tag == 3 and bits == 64:
                x = np.frombuffer(body[: len(body) // 8 * 8], dtype="<f8").astype(np.float32)
            elif tag == 1:
                x = _pcm_to_float(body, (bits + 7) // 8)
            else:
                raise ValueError(f"unsupported WAV encoding (format tag {tag}, {bits} bits); send PCM")
            return x, ch, rate
        pos += 8 + size + (size & 1)
    raise ValueError("no data chunk")


def _pcm_to_float(raw: bytes, width: int) -> np.ndarray:
    raw = raw[: len(raw) // width * width]
    if width == 1:
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        return v.astype(np.float32) / float(1 << 23)
    if width == 4:
        return (np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    raise ValueError(f"unsupported sample width {width} bytes")


def resample(x: np.ndarray, src: int, dst: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling by FFT (ideal low-pass at the lower Nyquist)."""
    if src == dst or x.size == 0:
        return x.astype(np.float32, copy=False)
    n_out = max(1, int(round(x.size * dst / src)))
    spec = np.fft.rfft(x.astype(np.float64))
    keep = min(spec.size, n_out // 2 + 1)
    out_spec = np.zeros(n_out // 2 + 1, dtype=np.complex128)
    out_spec[:keep] = spec[:keep]
    y = np.fft.irfft(out_spec, n_out) * (n_out / x.size)
    return y.astype(np.float32)


def decode_wav(data: bytes) -> np.ndarray:
    """WAV bytes -> mono float32 at 16 kHz in [-1, 1]. Raises APIError(400)."""
    try:
        try:
            with wave.open(io.BytesIO(data), "rb") as w:
                ch, rate, width = w.getnchannels(), w.getframerate(), w.getsampwidth()
                x = _pcm_to_float(w.readframes(w.getnframes()), width)
        except wave.Error as e:
            if "unknown format" not in str(e):
                raise
            x, ch, rate = _riff_fallback(data)
        if ch < 1 or rate < 1000 or rate > 384000:
            raise ValueError(f"unsupported WAV parameters ({ch} channels, {rate} Hz)")
    except (wave.Error, ValueError, EOFError, struct.error) as e:
        raise APIError(400, f"Invalid file format: could not decode the audio as WAV ({e}). "
                            "This server accepts RIFF/WAVE PCM only (e.g. 16-bit mono 16 kHz).",
                       param="file", code="invalid_audio") from None
    if ch > 1:
        x = x[: x.size // ch * ch].reshape(-1, ch).mean(axis=1)
    return resample(x, rate)


# ---------------------------------------------------------------- model

def _import_faster_whisper():
    # faster-whisper imports PyAV (audio file decoding) and huggingface_hub (model
    # download) at module level. This server decodes WAV itself and loads a local
    # folder, so neither is installed (requirements.txt); stand in empty modules.
    for mod in ("av", "huggingface_hub"):
        if mod not in sys.modules and find_spec(mod) is None:
            sys.modules[mod] = types.ModuleType(mod)
    from faster_whisper import WhisperModel  # noqa: E402
    return WhisperModel


# The encoder's input window: Whisper was trained on 30 s windows, and
# faster-whisper pads every window to 30 s. A caller's turn is a few seconds,
# so most of a 30 s encode is spent on padding (base, int8, 2 threads: 0.73 s
# for 30 s, 0.05 s for 5 s). "speech" encodes the audio and a margin instead
# (CTranslate2 takes any length up to 30 s); "30s" is Whisper's own window.
WINDOWS = ("speech", "30s")
WINDOW_MARGIN_FRAMES = 100  # 1 s of silence after the speech, as a turn ends with
WINDOW_MIN_FRAMES = 500     # 5 s at least: very short windows were not measured


class Recognizer:
    def __init__(self, model_dir: str, threads: int, compute_type: str, beam_size: int, window: str = "speech"):
        for f in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
            if not os.path.isfile(os.path.join(model_dir, f)):
                raise SystemExit(f"server.py: {model_dir} has no {f}: run speechserver/setup.sh "
                                 "and pass --model <cache>/whisper-base")
        if window not in WINDOWS:
            raise SystemExit(f"server.py: --window {window!r} is not one of {', '.join(WINDOWS)}")
        WhisperModel = _import_faster_whisper()
        t0 = time.monotonic()
        self.model = WhisperModel(model_dir, device="cpu", compute_type=compute_type,
                                  cpu_threads=threads, num_workers=1, local_files_only=True)
        self.load_seconds = time.monotonic() - t0
        self.beam_size = beam_size
        self.window = window
        self.languages = set(self.model.supported_languages)
        if getattr(self.model.model, "num_languages", 100) < 100:
            self.languages.discard("yue")  # faster-whisper lists it; only large-v3 has the token
        self.lock = threading.Lock()  # one decode at a time: the CPU is the bottleneck
        # faster-whisper's transcribe encodes the first window once to detect
        # the language and again to decode it (0.7 s twice for a 3 s turn).
        # Its encode is wrapped so that, within one request (under the lock),
        # the same window is encoded once and windows are cut to the speech.
        self._encode = self.model.encode
        self.model.encode = self._encode_window
        self._memo: tuple | None = None
        self._frames: int | None = None  # the request's window length, when cut
        self.encodes = 0  # encoder runs, for tests

    def _encode_window(self, features):
        if self._frames is not None and features.shape[-1] > self._frames:
            # Only padding is cut: every window of a request is at most its
            # first window's speech long (see run).
            features = features[..., :self._frames]
        key = (features.shape, hashlib.blake2b(np.ascontiguousarray(features).data, digest_size=16).digest())
        if self._memo is not None and self._memo[0] == key:
            return self._memo[1]
        out = self._encode(features)
        self.encodes += 1
        self._memo = (key, out)
        return out

    def _detect(self, audio: np.ndarray):
        """Whisper's language detection on the first window, built as
        faster-whisper's decoder builds it so that the decode reuses the
        encoding. Returns (code, probability, [(code, probability)...])."""
        from faster_whisper.audio import pad_or_trim  # importable once the model is (see __init__)

        fe = self.model.feature_extractor
        features = fe(audio)
        content = features.shape[-1] - 1  # transcribe drops the last frame too
        window = pad_or_trim(features[:, :min(fe.nb_max_frames, content)], fe.nb_max_frames)
        results = self.model.model.detect_language(self.model.encode(window))[0]
        probs = [(tok[2:-2], float(p)) for tok, p in results]
        return probs[0][0], probs[0][1], probs

    def language(self, code: str | None) -> str | None:
        if not code:
            return None
        c = code.strip().lower().replace("_", "-")
        c = LANGUAGE_ALIASES.get(c, c)
        if c == "yue" and "yue" not in self.languages:
            c = "zh"  # only large-v3 has a Cantonese token
        if c not in self.languages:
            raise APIError(400, f"Invalid language '{code}'. Language parameter must be specified in "
                                "ISO-639-1 format.", param="language", code="invalid_language_format")
        return c

    def run(self, audio: np.ndarray, task: str, language: str | None, prompt: str | None,
            temperature: float, words: bool, gone=lambda: False):
        """Decode audio. gone() is polled before decoding starts and between
        30 s windows: a client that timed out (and perhaps retried) while its
        request waited for the lock should not cost a decode."""
        # A caller's turn is seconds long and someone is waiting on it.
        # OpenAI's fallback ladder (six temperatures) re-decodes a
        # repetitive hypothesis up to six times, and a hallucination loop
        # then runs to the token limit on each: measured, synthetic
        # Mandarin took over 45 s for 3 s of audio. Two tries, and a token
        # budget in proportion to the audio (speech is well under 15
        # tokens a second), bound the decode. The budget and the prompt
        # (up to 224 tokens) must stay within the model's 448.
        temps = [temperature] if temperature > 0 else [0.0, 0.4]
        max_tokens = min(220, int(len(audio) / SAMPLE_RATE * 15) + 16)
        with self.lock:
            if gone():
                raise ClientGone()
            t0 = time.monotonic()
            fe = self.model.feature_extractor
            self._memo = None
            self._frames = None
            frames = len(audio) // fe.hop_length
            if self.window == "speech" and frames < fe.nb_max_frames:
                # One window: later windows of the same request (a seek
                # after an early last timestamp) hold less speech still.
                need = max(WINDOW_MIN_FRAMES, frames + WINDOW_MARGIN_FRAMES)
                self._frames = min(fe.nb_max_frames, -(-need // 100) * 100)
            detected = None
            try:
                if task == "transcribe" and language is None and self.model.model.is_multilingual:
                    detected = self._detect(audio)
                    language = detected[0]
                segments, info = self.model.transcribe(
                    audio, task=task, language=language, initial_prompt=prompt or None,
                    temperature=temps, beam_size=self.beam_size, word_timestamps=words,
                    vad_filter=False, log_progress=False, max_new_tokens=max_tokens,
                    condition_on_previous_text=False)
                out = []
                for seg in segments:  # decoding happens while iterating
                    out.append(seg)
                    if gone():
                        raise ClientGone()
            finally:
                self._memo = None
                self._frames = None
        if detected is not None:
            # Given the language, faster-whisper reports probability 1; the
            # client is told how sure the detection was.
            info = dataclasses.replace(info, language=detected[0], language_probability=detected[1],
                                       all_language_probs=detected[2])
        return out, info, time.monotonic() - t0


# ---------------------------------------------------------------- responses

def _ts(sec: float, sep: str) -> str:
    ms = int(round(max(sec, 0.0) * 1000))
    h, ms = divmod(ms, 3600000)
    m, ms = divmod(ms, 60000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def render(fmt: str, task: str, segments, info, duration: float, grans: set[str]) -> tuple[str, str]:
    """Returns (content_type, body) shaped like OpenAI's responses."""
    text = "".join(s.text for s in segments).strip()
    if fmt == "json":
        return "application/json", json.dumps({"text": text}, ensure_ascii=False)
    if fmt == "text":
        return "text/plain; charset=utf-8", text + "\n"
    if fmt in ("srt", "vtt"):
        out = ["WEBVTT\n"] if fmt == "vtt" else []
        for i, s in enumerate(segments, 1):
            if fmt == "srt":
                out.append(f"{i}\n{_ts(s.start, ',')} --> {_ts(s.end, ',')}\n{s.text.strip()}\n")
            else:
                out.append(f"{_ts(s.start, '.')} --> {_ts(s.end, '.')}\n{s.text.strip()}\n")
        return "text/plain; charset=utf-8", "\n".join(out) + "\n"
    lang = info.language if task == "transcribe" else "en"
    resp: dict = {
        "task": task,
        "language": LANGUAGES.get(lang, lang),
        # Not in OpenAI's shape: how sure Whisper's language detection was
        # (1.0 when the client gave the language), so that a caller can weigh
        # the language against other evidence.
        "language_probability": round(float(info.language_probability), 4) if task == "transcribe" else 1.0,
        "duration": round(duration, 3),
        "text": text,
    }
    if not grans or "segment" in grans:
        resp["segments"] = [{
            "id": i,
            "seek": int(s.seek),
            "start": round(s.start, 3),
            "end": round(s.end, 3),
            "text": s.text,
            "tokens": [int(t) for t in s.tokens],
            "temperature": float(s.temperature if s.temperature is not None else 0.0),
            "avg_logprob": float(s.avg_logprob),
            "compression_ratio": float(s.compression_ratio),
            "no_speech_prob": float(s.no_speech_prob),
        } for i, s in enumerate(segments)]
    if "word" in grans:
        resp["words"] = [{"word": w.word.strip(), "start": round(w.start, 3), "end": round(w.end, 3)}
                         for s in segments for w in (s.words or []) if w.word.strip()]
    return "application/json", json.dumps(resp, ensure_ascii=False)


# ---------------------------------------------------------------- HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "callbrief-speechserver/1"
    timeout = 120  # seconds an idle keep-alive connection or a slow upload may take

    # Set on the class by main().
    recognizer: Recognizer
    model_name: str
    max_bytes: int
    api_key: str | None
    created: int

    def log_message(self, fmt, *args):  # replaced by one line per request in _done
        pass

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._status = status

    def _json(self, status: int, obj) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json")

    def _error(self, e: APIError) -> None:
        self._json(e.status, e.body())

    def _route(self) -> str:
        path = self.path.split("?", 1)[0]
        return path.rstrip("/") or "/"

    def _auth(self) -> None:
        if not self.api_key:
            return
        got = self.headers.get("Authorization", "")
        if not hmac.compare_digest(got.encode(), ("Bearer " + self.api_key).encode()):
            raise APIError(401, "Incorrect API key provided.", code="invalid_api_key")

    def _done(self, t0: float, extra: str = "") -> None:
        log(f'{self.client_address[0]} "{self.command} {self.path}" {getattr(self, "_status", "-")} '
            f"{(time.monotonic() - t0) * 1000:.0f}ms{extra}")

    def do_GET(self):
        t0 = time.monotonic()
        route = self._route()
        try:
            if route == "/healthz":
                self._json(200, {"status": "ok", "model": self.model_name})
                return
            self._auth()
            card = {"id": self.model_name, "object": "model", "created": self.created, "owned_by": "callbrief"}
            if route == "/v1/models":
                self._json(200, {"object": "list", "data": [card]})
            elif route == "/v1/models/" + self.model_name:
                self._json(200, card)
            elif route.startswith("/v1/models/"):
                raise APIError(404, f"The model '{route[len('/v1/models/'):]}' does not exist",
                               param="model", code="model_not_found")
            elif route in ("/v1/audio/transcriptions", "/v1/audio/translations"):
                raise APIError(405, "Method not allowed: use POST", code="method_not_allowed")
            else:
                raise APIError(404, f"Unknown request URL: GET {route}", code="unknown_url")
        except APIError as e:
            self._error(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            self._done(t0)

    do_HEAD = do_GET

    def do_POST(self):
        t0 = time.monotonic()
        extra = ""
        self.server.inflight_add(1)
        try:
            route = self._route()
            if route not in ("/v1/audio/transcriptions", "/v1/audio/translations"):
                self._discard_body()
                raise APIError(404, f"Unknown request URL: POST {route}", code="unknown_url")
            self._auth()
            extra = self._transcribe("translate" if route.endswith("translations") else "transcribe")
        except APIError as e:
            self._error(e)
        except ClientGone:
            self.close_connection = True
            extra = " client closed the connection before decoding finished: dropped"
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            extra += " client closed the connection before the reply"
        except Exception as e:  # noqa: BLE001 - never let a request kill the thread silently
            log(f"internal error: {type(e).__name__}: {e}")
            self.close_connection = True
            self._error(APIError(500, f"internal error: {type(e).__name__}", type_="server_error"))
        finally:
            self.server.inflight_add(-1)
            self._done(t0, extra)

    def _client_gone(self) -> bool:
        """True when the peer has closed the connection (EOF is readable)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _discard_body(self) -> None:
        """Read and drop a body we refuse, so that the client sees our answer
        rather than a connection reset; a very large one is not read and the
        connection is closed instead."""
        self.close_connection = True
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return
        if n > 4 * self.max_bytes:
            return
        while n > 0:
            chunk = self.rfile.read(min(n, 1 << 20))
            if not chunk:
                return
            n -= len(chunk)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise APIError(411, "chunked uploads are not supported: send Content-Length", code="length_required")
        try:
            n = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            raise APIError(411, "Content-Length required", code="length_required") from None
        if n < 0:
            self.close_connection = True
            raise APIError(400, "bad Content-Length", code="invalid_request")
        if n > self.max_bytes:
            self._discard_body()
            raise APIError(413, f"Maximum content size limit ({self.max_bytes} bytes) exceeded "
                                f"({n} bytes read)", param="file", code="file_too_large")
        body = self.rfile.read(n)
        if len(body) != n:
            self.close_connection = True
            raise APIError(400, "request body shorter than Content-Length", code="invalid_request")
        return body

    def _transcribe(self, task: str) -> str:
        body = self._read_body()
        fields, files = parse_multipart(body, self.headers.get("Content-Type", ""))
        del body
        if "file" not in files:
            raise APIError(400, "Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
        fmt = (fields.get("response_format") or "json").strip()
        if fmt not in RESPONSE_FORMATS:
            raise APIError(400, f"Invalid value for 'response_format': '{fmt}'. Supported values are: "
                                + ", ".join(f"'{f}'" for f in RESPONSE_FORMATS) + ".",
                           param="response_format", code="invalid_value")
        grans: set[str] = set()
        for key in ("timestamp_granularities[]", "timestamp_granularities"):
            for g in fields.get(key, "").split("\n"):
                g = g.strip()
                if not g:
                    continue
                if g not in GRANULARITIES:
                    raise APIError(400, f"Invalid value for 'timestamp_granularities': '{g}'. Supported "
                                        "values are: 'word' and 'segment'.",
                                   param="timestamp_granularities", code="invalid_value")
                grans.add(g)
        if grans and fmt != "verbose_json":
            raise APIError(400, "timestamp_granularities is only supported with response_format "
                                "'verbose_json'.", param="timestamp_granularities", code="invalid_value")
        try:
            temperature = float(fields.get("temperature") or 0.0)
        except ValueError:
            temperature = -1.0
        if not 0.0 <= temperature <= 1.0:
            raise APIError(400, "Invalid value for 'temperature': must be a number between 0 and 1.",
                           param="temperature", code="invalid_value")
        language = self.recognizer.language(fields.get("language")) if task == "transcribe" else None
        audio = decode_wav(files["file"][1])
        duration = audio.size / SAMPLE_RATE
        if duration < MIN_AUDIO_SECONDS:
            raise APIError(400, f"Audio file is too short. Minimum audio length is {MIN_AUDIO_SECONDS} seconds.",
                           param="file", code="audio_too_short")
        t0 = time.monotonic()
        segments, info, dt = self.recognizer.run(audio, task, language, fields.get("prompt"), temperature,
                                                 words="word" in grans, gone=self._client_gone)
        waited = time.monotonic() - t0 - dt
        ctype, out = render(fmt, task, segments, info, duration, grans)
        self._send(200, out.encode("utf-8"), ctype)
        return (f" audio={duration:.2f}s queued={waited:.2f}s decode={dt:.2f}s rtf={dt / max(duration, 1e-9):.3f}"
                f" lang={info.language if language is None else language}{'' if language is None else '(hint)'}"
                f" fmt={fmt} segments={len(segments)}")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._inflight = 0
        self._cv = threading.Condition()

    def inflight_add(self, d: int) -> None:
        with self._cv:
            self._inflight += d
            self._cv.notify_all()

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client that went away between requests: nothing to report
        super().handle_error(request, client_address)

    def drain(self, timeout: float) -> bool:
        with self._cv:
            return self._cv.wait_for(lambda: self._inflight == 0, timeout)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="OpenAI-compatible transcription server (faster-whisper, CPU)")
    p.add_argument("--model", required=True, help="CTranslate2 Whisper folder (model.bin, config.json, ...)")
    p.add_argument("--addr", default="127.0.0.1:8178", help="listen host:port (default %(default)s)")
    p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="CPU threads (default %(default)s)")
    p.add_argument("--compute-type", default="int8", help="CTranslate2 compute type: int8, int8_float32, float32 (default %(default)s)")
    p.add_argument("--beam-size", type=int, default=5, help="beam size (default %(default)s, as OpenAI's whisper)")
    p.add_argument("--window", default="speech", choices=WINDOWS,
                   help="encoder window: the speech and 1 s (at least 5 s), or Whisper's 30 s (default %(default)s)")
    p.add_argument("--model-name", default="whisper-base", help="id reported by /v1/models (default %(default)s); any model value is accepted in requests")
    p.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="largest request body (default %(default)s)")
    p.add_argument("--drain", type=float, default=30.0, help="seconds to let in-flight requests finish on SIGTERM")
    a = p.parse_args(argv)

    host, _, port = a.addr.rpartition(":")
    if not host or not port.isdigit():
        p.error(f"--addr {a.addr!r} is not host:port")
    host = host.strip("[]")

    rec = Recognizer(a.model, a.threads, a.compute_type, a.beam_size, a.window)
    log(f"model {a.model} loaded in {rec.load_seconds:.2f}s (compute_type={a.compute_type}, threads={a.threads}, "
        f"beam={a.beam_size}, window={a.window}, languages={len(rec.languages)})")
    Handler.recognizer = rec
    Handler.model_name = a.model_name
    Handler.max_bytes = a.max_bytes
    Handler.api_key = os.environ.get("SPEECHSERVER_API_KEY") or None
    Handler.created = int(time.time())

    if ":" in host:
        Server.address_family = socket.AF_INET6
    srv = Server((host, int(port)), Handler)
    stopping = threading.Event()

    def stop(signum, _frame):
        if stopping.is_set():
            return
        stopping.set()
        log(f"received {signal.Signals(signum).name}: stopping")
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(f"listening on http://{a.addr} (POST /v1/audio/transcriptions, GET /v1/models, GET /healthz)")
    # Printed on stdout so a supervisor or test can wait for readiness.
    print(f"READY http://{srv.server_address[0]}:{srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
        if not srv.drain(a.drain):
            log("in-flight requests did not finish in time")
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
