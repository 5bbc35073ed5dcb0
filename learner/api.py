"""A local OpenAI-compatible API: other apps on this computer chat with the model that learns.

    GET  /v1/models             the model served, id "grokling" (any `model` a request names is served by it)
    POST /v1/chat/completions   a chat turn, whole or streamed as server-sent events
    POST /v1/feedback           {"message_id", "rating": 1|-1|0} and/or {"message_id", "correction": "..."}:
                                rate or correct a reply the API gave; the next learning cycle trains on it

Each exchange is stored like a chat in the window, marked source 'api': the request's system
prompt and earlier messages, then the turn itself through learner.chat.turn, so instant memory,
corrections and the learner treat it as any other chat. A request that repeats an API chat
and adds a question (what chat apps send each turn) continues that conversation. Replies carry
grokling's ids (`grokling: {conversation_id, message_id, model_version}`, in the last chunk
when streamed) for the feedback endpoint; model_version names the model and its version as the
store does ("<model>/<version>", learner.models). What answers is the active model's live version.

It listens on 127.0.0.1 only. Requests must name localhost in their Host header and POST JSON,
so a web page open in the user's browser can neither reach it through DNS rebinding nor post
it a correction from a form. An optional key is checked on every request.

Threading: a thread per connection (ThreadingHTTPServer); exchanges run one at a time, under
one lock held from storing the request until the reply is stored. The engine's own lock would
serialise the generation anyway; this one also keeps two requests continuing the same chat
from interleaving. The server never loads or closes the engine it is given. It knows nothing
about Qt: the window starts and stops it with its own engine.
"""

import hmac
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from learner import __version__
from learner.chat.engine import Engine, EngineError, PromptTooLongError, Sampling
from learner.chat.served import ModelChoice, live_model
from learner.chat.turn import Reply, send
from learner.settings import Settings
from learner.store import NotFoundError, Store
from learner.textclean import EmptyMessageError, clean_message, clean_text

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
MODEL_ID = "grokling"
MAX_BODY_BYTES = 16 * 1024 * 1024
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
SYSTEM_ROLES = {"system", "developer"}  # "developer" is what newer OpenAI clients call the system prompt


class ApiError(Exception):
    """A request answered with an HTTP error and an OpenAI-style error object."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code

    def to_dict(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


class ServeError(RuntimeError):
    """The API cannot listen (the port is taken): shown as is in the window and the CLI."""


@dataclass(frozen=True)
class ChatRequest:
    """A /v1/chat/completions body, checked and in the store's terms."""

    system_prompt: str | None
    """The request's system messages joined; None: the settings' system prompt, as in a new chat."""
    history: list[tuple[str, str]]
    """The earlier messages, (role, content) as the store keeps them."""
    question: str
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    seed: int | None
    stop: tuple[str, ...]
    stream: bool
    include_usage: bool

    def sampling(self, settings: Settings) -> Sampling:
        return Sampling.from_settings(settings, temperature=self.temperature, top_p=self.top_p,
                                      max_tokens=self.max_tokens, seed=self.seed, stop=self.stop)


def _bad(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param)


def _number(body: dict, name: str, low: float, high: float, integer: bool = False) -> float | int | None:
    value = body.get(name)
    if value is None:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise _bad(f"'{name}' must be {kind} from {low} to {high}, not {value!r}", name)
    return value


def _text(content, param: str) -> str:
    """A message's content: a string, or OpenAI's list of content parts when they are all text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text"
                                         and isinstance(p.get("text"), str) for p in content):
        return "\n".join(p["text"] for p in content)
    raise _bad("content must be a string or a list of text parts (grokling reads text only)", param)


def parse_chat_request(body: dict, n_ctx: int) -> ChatRequest:
    """Check a chat completion request; ApiError (400) naming the first thing wrong with it."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("'messages' must be a non-empty list of {role, content}", "messages")
    system, history = [], []
    for i, message in enumerate(messages):
        param = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _bad(f"{param} must be an object with role and content", param)
        role = message.get("role")
        if role in ("tool", "function") or message.get("tool_calls"):
            raise _bad(f"{param}: tool calls are not supported", param)
        if role not in SYSTEM_ROLES | {"user", "assistant"}:
            raise _bad(f"{param}: role must be system, user or assistant, not {role!r}", f"{param}.role")
        content = clean_text(_text(message.get("content"), f"{param}.content"))
        if role in SYSTEM_ROLES:
            if history:
                raise _bad(f"{param}: system messages must come before the conversation", param)
            if content.strip():
                system.append(content.strip())
        elif role == "user":
            if not content.strip():
                raise _bad(f"{param} is empty", f"{param}.content")
            history.append(("user", content))
        elif content.strip():  # an empty assistant turn is nothing the model would see
            history.append(("assistant", content.strip()))
    if not history or history[-1][0] != "user":
        raise _bad("the last message must be the user's", "messages")
    if body.get("n", 1) != 1:
        raise _bad("'n' must be 1: grokling writes one reply per request", "n")
    if not isinstance(body.get("model", ""), str):
        raise _bad("'model' must be a string", "model")
    stop = body.get("stop")
    stop = [] if stop is None else [stop] if isinstance(stop, str) else stop
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise _bad("'stop' must be a non-empty string or a list of them", "stop")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad("'stream' must be true or false", "stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise _bad("'stream_options' must be an object", "stream_options")
    max_tokens = _number(body, "max_completion_tokens", 1, n_ctx - 1, integer=True)
    if max_tokens is None:
        max_tokens = _number(body, "max_tokens", 1, n_ctx - 1, integer=True)
    return ChatRequest(
        system_prompt="\n\n".join(system) or None,
        history=history[:-1],
        question=history[-1][1],
        temperature=_number(body, "temperature", 0, 2),
        top_p=_number(body, "top_p", 0, 1),
        max_tokens=max_tokens,
        seed=_number(body, "seed", 0, 2**32 - 1, integer=True),
        stop=tuple(stop),
        stream=stream,
        include_usage=options.get("include_usage") is True,
    )


def _failure(reply: Reply) -> ApiError:
    """The error answer for a reply the engine could not write."""
    if isinstance(reply.failure, PromptTooLongError):
        return ApiError(400, str(reply.failure), param="messages", code="context_length_exceeded")
    return ApiError(500, f"the model failed to answer: {reply.message.error}", "server_error")


class ApiServer:
    """The API over a store and an engine. `start(engine)` listens, `stop()` stops listening.

    `engine` may be set again while it serves (the window does, when its model host replaces
    its engine); the next exchange uses the new one. With `follow_live` (the CLI, which owns
    its engine) the active model's live version (learner.models) is swapped in before the next
    exchange when it changed since the last: a version that went live, or another model chosen.
    `settings` is called once per exchange, so changed settings apply to the next one.
    """

    def __init__(self, store: Store, settings: Callable[[], Settings], *, port: int, api_key: str | None = None,
                 follow_live: bool = False):
        self.store, self.settings, self.port = store, settings, port
        self.api_key, self.follow_live = api_key, follow_live
        self.engine: Engine | None = None
        self.exchange_lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def start(self, engine: Engine) -> None:
        """Listen on 127.0.0.1:port (port 0: any free one, then in `port`), serving from a thread."""
        self.engine = engine
        handler = type("Handler", (_Handler,), {"api": self})
        try:
            self._httpd = _Server((HOST, self.port), handler)
        except OSError as e:
            raise ServeError(f"the API cannot listen on {HOST}:{self.port}: {e.strerror or e}") from e
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="grokling-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening. An exchange in progress finishes (and is stored) on its own thread."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
            self._httpd = self._thread = None

    # -- what the endpoints answer --------------------------------------------------------

    def served_model(self) -> ModelChoice:
        return live_model() if self.follow_live else self.engine.model

    def model_card(self) -> dict:
        model = self.served_model()
        try:
            created = int(model.path.stat().st_mtime)
        except OSError:
            created = 0
        return {"id": MODEL_ID, "object": "model", "created": created, "owned_by": "grokling",
                "grokling": {"model": model.model, "version": model.version, "name": model.display_name}}

    def begin_exchange(self, request: ChatRequest, settings: Settings) -> Reply:
        """Store the request's chat (or find the API chat it continues) and the question; the Reply to stream.
        Called with `exchange_lock` held."""
        engine = self.engine
        if self.follow_live:
            try:
                model = live_model()  # the active model's live version: another model or version may be it now
                if (model.path, model.key) != (engine.model.path, engine.model.key):
                    engine.swap(model)
                    log.info("now serving %s (%s)", model.display_name, model.version)
            except (EngineError, OSError) as e:
                log.warning("kept serving %s (%s): %s", engine.model.display_name, engine.model.version, e)
        conversation_id = self.store.api_conversation_continued(request.system_prompt, request.history)
        if conversation_id is None:
            conversation_id = self.store.new_conversation(system_prompt=request.system_prompt, source="api")
            for role, content in request.history:
                if role == "user":
                    self.store.add_user_message(conversation_id, content)
                else:
                    self.store.add_assistant_message(conversation_id, content)
        return send(self.store, engine, conversation_id, request.question, settings,
                    sampling=request.sampling(settings))

    def feedback(self, body: dict) -> dict:
        """Rate and/or correct a reply the API gave, through the store as the window does."""
        message_id, rating, correction = body.get("message_id"), body.get("rating"), body.get("correction")
        if isinstance(message_id, bool) or not isinstance(message_id, int):
            raise _bad("'message_id' must be the integer from a reply's grokling.message_id", "message_id")
        if rating is None and correction is None:
            raise _bad("give a 'rating' (1, -1 or 0 to clear), a 'correction', or both")
        if rating is not None and (isinstance(rating, bool) or rating not in (-1, 0, 1)):
            raise _bad("'rating' must be 1 (good), -1 (bad) or 0 (clear)", "rating")
        if correction is not None:
            if not isinstance(correction, str):
                raise _bad("'correction' must be the text the reply should have been", "correction")
            try:
                clean_message(correction)
            except EmptyMessageError:
                raise _bad("'correction' is empty", "correction") from None
        try:
            message = self.store.message(message_id)
            source = self.store.conversation(message.conversation_id).source
        except NotFoundError:
            source = None
        # The API's own replies only: another app has no business teaching through the user's window chats.
        if source != "api" or message.role != "assistant":
            raise ApiError(404, f"no reply {message_id} from the API", "not_found_error", "message_id")
        if rating is not None:
            self.store.rate(message_id, rating)
        if correction is not None:
            self.store.correct(message_id, correction)
        message = self.store.message(message_id)
        return {"object": "grokling.feedback", "message_id": message.id, "conversation_id": message.conversation_id,
                "rating": message.rating, "correction": message.correction}


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # A client that closes a kept-alive connection abruptly (an SSE client stops reading at [DONE]) is
        # ordinary; anything else is a bug, logged with its traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("%s closed the connection", client_address[0])
        else:
            log.exception("the API failed on a connection from %s", client_address[0])


def _usage(reply: Reply) -> dict:
    prompt, completion = reply.message.prompt_tokens or 0, reply.message.completion_tokens or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _ids(reply: Reply) -> dict:
    m = reply.message
    return {"conversation_id": m.conversation_id, "message_id": m.id, "model_version": m.model_version}


def _finish_reason(reply: Reply) -> str:
    return "length" if reply.stats is not None and reply.stats.finish_reason == "length" else "stop"


class _Handler(BaseHTTPRequestHandler):
    """One connection. Every answer is JSON (or a JSON event stream); no traceback ever reaches a client."""

    api: ApiServer
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked streams
    server_version = f"grokling/{__version__}"
    timeout = 120  # an idle keep-alive connection gives its thread back
    disable_nagle_algorithm = True  # each streamed piece leaves at once, not held back for the next

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def log_message(self, format: str, *args) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _handle(self, method: str) -> None:
        self._streaming = False
        try:
            self._check_access()
            path = urlsplit(self.path).path.rstrip("/")
            if method == "GET" and path == "/v1/models":
                self._send_json(200, {"object": "list", "data": [self.api.model_card()]})
            elif method == "GET" and path == f"/v1/models/{MODEL_ID}":
                self._send_json(200, self.api.model_card())
            elif method == "POST" and path == "/v1/chat/completions":
                self._chat(self._read_json())
            elif method == "POST" and path == "/v1/feedback":
                self._send_json(200, self.api.feedback(self._read_json()))
            else:
                raise ApiError(404, f"no endpoint {method} {path}: grokling serves /v1/models, "
                                    "/v1/chat/completions and /v1/feedback", "not_found_error")
        except (BrokenPipeError, ConnectionResetError):
            log.info("%s went away before the answer was complete", self.address_string())
            self.close_connection = True
        except ApiError as e:
            self._send_error(e)
        except Exception:
            log.exception("the API failed on %s %s", method, self.path)
            self._send_error(ApiError(500, "grokling failed to answer this request (see its log)", "server_error"))

    def _check_access(self) -> None:
        host = self.headers.get("Host")
        if host is not None and urlsplit(f"//{host}").hostname not in LOCAL_HOSTS:
            raise ApiError(403, "requests must be addressed to localhost or 127.0.0.1", "permission_error")
        if self.api.api_key is not None:
            scheme, _, given = (self.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.api.api_key.encode()):
                raise ApiError(401, "this grokling API needs its key: Authorization: Bearer KEY "
                                    "(the api_key setting, or serve --api-key)", "authentication_error",
                               code="invalid_api_key")

    def _read_json(self) -> dict:
        if self.headers.get_content_type() != "application/json":
            raise ApiError(415, "send the body as JSON, with Content-Type: application/json")
        if self.headers.get("Transfer-Encoding"):
            raise ApiError(411, "send the body with a Content-Length, not chunked")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise ApiError(411, "send the body with a Content-Length") from None
        if not 0 <= length <= MAX_BODY_BYTES:
            raise ApiError(413, f"the body is over {MAX_BODY_BYTES // 2**20} MiB")
        try:
            body = json.loads(self.rfile.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise _bad(f"the body is not valid JSON: {e}") from None
        if not isinstance(body, dict):
            raise _bad("the body must be a JSON object")
        return body

    # -- chat -------------------------------------------------------------------------------

    def _chat(self, body: dict) -> None:
        request = parse_chat_request(body, self.api.engine.n_ctx)
        settings = self.api.settings()
        completion = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                      "model": MODEL_ID}
        with self.api.exchange_lock:
            reply = self.api.begin_exchange(request, settings)
            pieces = iter(reply)
            try:
                if request.stream:
                    self._stream(reply, pieces, request, completion)
                else:
                    for _ in pieces:
                        pass
                    if reply.message.status == "error":
                        raise _failure(reply)
                    self._send_json(200, {
                        **completion, "system_fingerprint": f"grokling-{reply.message.model_version}",
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.message.content},
                                     "logprobs": None, "finish_reason": _finish_reason(reply)}],
                        "usage": _usage(reply), "grokling": _ids(reply)})
            finally:
                pieces.close()  # a client gone mid-stream: the reply is stored as stopped

    def _stream(self, reply: Reply, pieces: Iterator[str], request: ChatRequest, completion: dict) -> None:
        # The status line waits for the first piece, so a request the model cannot answer at all
        # (a prompt over the context) still gets a real error status.
        fingerprint = f"grokling-{reply.engine.model.key}"
        first = next(pieces, None)
        if first is None and reply.message.status == "error":
            raise _failure(reply)

        def chunk(choices: list, **extra) -> dict:
            return {**completion, "object": "chat.completion.chunk", "system_fingerprint": fingerprint,
                    "choices": choices, **extra}

        def delta(content: dict, finish_reason: str | None = None) -> list:
            return [{"index": 0, "delta": content, "logprobs": None, "finish_reason": finish_reason}]

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._streaming = True
        self._event(chunk(delta({"role": "assistant", "content": ""})))
        if first is not None:
            self._event(chunk(delta({"content": first})))
            for piece in pieces:
                self._event(chunk(delta({"content": piece})))
        if reply.message.status == "error":  # failed mid-reply: OpenAI's clients raise on an error event
            self._event(_failure(reply).to_dict())
        else:
            self._event(chunk(delta({}, _finish_reason(reply)), grokling=_ids(reply)))
            if request.include_usage:
                self._event(chunk([], usage=_usage(reply)))
            self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")  # the end of the chunked body

    def _event(self, data: dict) -> None:
        self._write_chunk(b"data: " + json.dumps(data, ensure_ascii=False).encode("utf-8") + b"\n\n")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    # -- answers ----------------------------------------------------------------------------

    def _send_json(self, status: int, data: dict, headers: dict | None = None) -> None:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_error(self, error: ApiError) -> None:
        if self._streaming:  # the status line is gone: end the stream where it is
            self.close_connection = True
            return
        # The body of a refused request may be unread: this connection cannot carry another request.
        self.close_connection = True
        headers = {"Connection": "close"}
        if error.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="grokling"'
        self._send_json(error.status, error.to_dict(), headers)
