"""One conversational turn: the glue between the store and the engine, shared by the window and the CLI.

The user's message is committed by `send` before anything is generated; the reply is
stored when it ends, with its status (complete, stopped or error) and its timings.
"""

import logging
import threading
import time
from collections.abc import Iterator

from learner.chat import memory
from learner.chat.engine import Engine, EngineError, ReplyStats, Sampling
from learner.settings import Settings
from learner.store import Message, Store

log = logging.getLogger(__name__)


def chat_messages(store: Store, conversation_id: int, default_system_prompt: str) -> list[dict]:
    """The thread as the model sees it. A corrected reply counts as what the user said it should be."""
    conversation = store.conversation(conversation_id)
    messages = [{"role": "system", "content": conversation.system_prompt or default_system_prompt}]
    for m in store.thread(conversation_id):
        content = m.correction or m.content
        if content:
            messages.append({"role": m.role, "content": content})
    return messages


class Reply:
    """Streams the assistant's reply to the conversation's thread, then stores it.

    Iterate for the text pieces. Setting `stop` (or closing the iterator) ends the reply
    early; it is stored as "stopped". An engine failure is stored as "error" with its
    reason, and kept in `failure` for a caller that answers differently by kind (the API:
    a prompt too long is the client's mistake). Afterwards `message` is the stored reply.
    """

    def __init__(
        self,
        store: Store,
        engine: Engine,
        conversation_id: int,
        settings: Settings,
        *,
        sampling: Sampling | None = None,
        stop: threading.Event | None = None,
    ):
        self.store, self.engine, self.conversation_id = store, engine, conversation_id
        self.settings = settings
        self.sampling = sampling or Sampling.from_settings(settings)
        self.stop = stop or threading.Event()
        self.message: Message | None = None
        self.failure: Exception | None = None
        self.stats: ReplyStats | None = None
        """The engine's figures of this reply (tokens, timings, why it ended), once it has ended."""
        self.recalled: list[memory.Recalled] = []

    def __iter__(self) -> Iterator[str]:
        pieces: list[str] = []
        status, error = "complete", None
        version = self.engine.model.key  # "<model>/<version>": which model answered, and which of its versions
        messages = chat_messages(self.store, self.conversation_id, self.settings.system_prompt)
        self.recalled = memory.recall(self.store, messages[-1]["content"], self.settings,
                                      exclude_conversation=self.conversation_id)
        started = time.perf_counter()
        if (answer := memory.taught_answer(messages[-1]["content"], self.recalled)) is not None:
            stream = _said(answer)
        else:
            stream = self.engine.chat(memory.with_memory(messages, self.recalled), self.sampling)
        try:
            for piece in stream:
                if self.stop.is_set():
                    status = "stopped"
                    break
                pieces.append(piece)
                yield piece
        except GeneratorExit:
            status = "stopped"
        except EngineError as e:
            status, error, self.failure = "error", str(e), e
        except Exception as e:  # a bug or a llama.cpp failure: keep the turn, show the reason
            log.exception("reply failed")
            status, error, self.failure = "error", f"{type(e).__name__}: {e}", e
        finally:
            stream.close()
            if answer is None:
                stats = self.engine.last_stats
            else:
                took = (time.perf_counter() - started) * 1000
                stats = ReplyStats(first_token_ms=took, duration_ms=took, finish_reason="stop")
            self.stats = stats
            message_id = self.store.add_assistant_message(
                self.conversation_id,
                "".join(pieces).strip(),
                status=status,
                error=error,
                model_version=version,
                prompt_tokens=stats.prompt_tokens or None,
                completion_tokens=stats.completion_tokens if status != "error" else None,
                first_token_ms=stats.first_token_ms,
                duration_ms=stats.duration_ms or None,
                recalled=[r.to_dict() for r in self.recalled] or None,
            )
            self.message = self.store.message(message_id)


def _said(answer: str) -> Iterator[str]:
    """A taught answer given again, streamed like a reply."""
    yield answer


def send(store: Store, engine: Engine, conversation_id: int, text: str, settings: Settings, **kwargs) -> Reply:
    """Commit the user's message, then return the Reply to stream."""
    store.add_user_message(conversation_id, text)
    return Reply(store, engine, conversation_id, settings, **kwargs)
