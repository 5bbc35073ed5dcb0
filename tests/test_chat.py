"""A turn through the store and the real engine: what is committed when, and with which status."""

import threading

from learner.chat.turn import chat_messages, send
from learner.chat.engine import Sampling


def test_the_users_message_is_committed_before_generation(store, embedded_engine, greedy_settings):
    cid = store.new_conversation()
    reply = send(store, embedded_engine, cid, "What is the capital of Japan?", greedy_settings)
    assert [m.content for m in store.thread(cid)] == ["What is the capital of Japan?"]
    text = "".join(reply)
    message = reply.message
    assert "Tokyo" in text and message.content == text.strip()
    assert (message.status, message.model_version) == ("complete", "embedded/base")
    assert message.completion_tokens > 1 and message.prompt_tokens > 10
    assert message.tokens_per_s > 0 and message.first_token_ms > 0
    assert [m.role for m in store.thread(cid)] == ["user", "assistant"]


def test_a_stopped_reply_is_stored_as_stopped_with_its_text(store, embedded_engine, greedy_settings):
    cid = store.new_conversation()
    stop = threading.Event()
    reply = send(store, embedded_engine, cid, "Write a long poem about the sea.", greedy_settings,
                 sampling=Sampling(temperature=0.0, max_tokens=300), stop=stop)
    received = []
    for piece in reply:
        received.append(piece)
        if len(received) == 5:
            stop.set()
    assert reply.message.status == "stopped"
    assert reply.message.content == "".join(received).strip() and reply.message.content


def test_closing_the_stream_also_counts_as_stopped(store, embedded_engine, greedy_settings):
    cid = store.new_conversation()
    stream = iter(send(store, embedded_engine, cid, "Count to fifty.", greedy_settings))
    next(stream)
    stream.close()
    [_, answer] = store.thread(cid)
    assert answer.status == "stopped"


def test_a_failed_reply_is_stored_as_an_error_and_the_question_kept(store, embedded_engine, greedy_settings):
    cid = store.new_conversation()
    paste = "data " * 300_000
    reply = send(store, embedded_engine, cid, paste, greedy_settings)
    assert list(reply) == []
    [question, answer] = store.thread(cid)
    assert question.content == paste
    assert answer.status == "error" and "reads at most" in answer.error
    # the conversation goes on: the oversized turn is dropped from the context
    reply = send(store, embedded_engine, cid, "What is the capital of Japan?", greedy_settings)
    assert "Tokyo" in "".join(reply)
    assert reply.message.status == "complete"


def test_the_model_sees_corrections_and_the_conversations_system_prompt(store):
    cid = store.new_conversation(system_prompt="Be brief.")
    store.add_user_message(cid, "Capital of Australia?")
    reply = store.add_assistant_message(cid, "Sydney.")
    store.correct(reply, "Canberra.")
    store.add_assistant_message(cid, "", status="error", error="x")
    assert chat_messages(store, cid, "default") == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of Australia?"},
        {"role": "assistant", "content": "Canberra."},
    ]
    other = store.new_conversation()
    assert chat_messages(store, other, "default") == [{"role": "system", "content": "default"}]
