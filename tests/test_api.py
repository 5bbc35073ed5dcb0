"""The local OpenAI-compatible API, over real HTTP on 127.0.0.1, driven by the official `openai` client,
answered by the embedded GGUF through llama.cpp; and `grokling serve` as a user runs it."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

from learner import models
from learner.api import ApiServer
from learner.chat.served import embedded_gguf
from learner.learning import collect
from learner.models import adding
from learner.settings import Settings
from learner.store import Store

GROKLING = str(Path(sys.executable).with_name("grokling"))

SETTINGS = Settings(temperature=0.0, max_tokens=48)
JAPAN = {"role": "user", "content": "What is the capital of Japan?"}


def serve(store, engine, **options) -> ApiServer:
    server = ApiServer(store, lambda: SETTINGS, port=0, **options)
    server.start(engine)
    return server


@pytest.fixture
def api(store, embedded_engine):
    server = serve(store, embedded_engine)
    yield server
    server.stop()


def client_of(server: ApiServer, key: str = "not needed") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key=key, max_retries=0)


def test_models_lists_the_model_served(api):
    [model] = client_of(api).models.list().data
    assert (model.id, model.owned_by) == ("grokling", "grokling")
    assert model.grokling == {"model": "embedded", "version": "base", "name": models.embedded().name}
    assert client_of(api).models.retrieve("grokling").id == "grokling"


def test_a_completion_is_stored_as_an_api_chat_holding_what_the_model_saw(api, store):
    messages = [{"role": "system", "content": "You answer in one sentence."},
                {"role": "user", "content": "Hello!"}, {"role": "assistant", "content": "Hello, how can I help?"}, JAPAN]
    completion = client_of(api).chat.completions.create(model="anything", messages=messages)
    [choice] = completion.choices
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length") and completion.model == "grokling"
    ids = completion.grokling
    conversation = store.conversation(ids["conversation_id"])
    assert (conversation.source, conversation.system_prompt) == ("api", "You answer in one sentence.")
    thread = store.thread(conversation.id)
    assert [(m.role, m.content) for m in thread] == [
        ("user", "Hello!"), ("assistant", "Hello, how can I help?"), ("user", JAPAN["content"]),
        ("assistant", choice.message.content)]
    reply = thread[-1]
    assert (reply.id, reply.model_version, ids["model_version"]) == (ids["message_id"], "embedded/base",
                                                                        "embedded/base")
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (reply.prompt_tokens,
                                                                                   reply.completion_tokens)


def test_streaming_sends_openai_chunks_and_the_ids_in_the_last_one(api, store):
    stream = client_of(api).chat.completions.create(model="grokling", messages=[JAPAN], stream=True,
                                                    stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    [finished] = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 2  # it really streamed
    reply = store.message(finished.grokling["message_id"])
    assert reply.content == text.strip() and reply.status == "complete"
    assert store.conversation(reply.conversation_id).source == "api"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == reply.completion_tokens

    raw = httpx.post(f"{api.url}/chat/completions", json={"messages": [JAPAN], "stream": True, "max_tokens": 4})
    assert raw.headers["content-type"] == "text/event-stream"
    events = [line for line in raw.text.split("\n\n") if line]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"


def test_sampling_options_are_honoured(api):
    client = client_of(api)

    def ask(**options):
        completion = client.chat.completions.create(model="grokling", messages=[JAPAN], **options)
        return completion.choices[0]

    full = ask(temperature=0).message.content
    middle = full.split()[len(full.split()) // 2]
    stopped = ask(temperature=0, stop=[middle])
    assert stopped.message.content == full[: full.index(middle)].strip() and stopped.finish_reason == "stop"
    short = client.chat.completions.create(model="grokling", messages=[JAPAN], max_tokens=3)
    assert short.choices[0].finish_reason == "length" and short.usage.completion_tokens == 3
    hot = [ask(temperature=1.5, top_p=1.0, seed=seed, max_tokens=24).message.content for seed in (7, 7)]
    assert hot[0] == hot[1]  # the same seed samples the same reply


def test_a_chat_app_resending_the_chat_each_turn_continues_one_conversation(api, store):
    client = client_of(api)
    first = client.chat.completions.create(model="grokling", messages=[JAPAN])
    answer = {"role": "assistant", "content": first.choices[0].message.content}
    then = {"role": "user", "content": "And of France?"}
    second = client.chat.completions.create(model="grokling", messages=[JAPAN, answer, then])
    assert second.grokling["conversation_id"] == first.grokling["conversation_id"]
    assert [m.content for m in store.thread(first.grokling["conversation_id"])] == [
        JAPAN["content"], answer["content"], then["content"], second.choices[0].message.content]
    # Another system prompt is another chat, even with the same messages.
    other = client.chat.completions.create(model="grokling", messages=[{"role": "system", "content": "Be brief."},
                                                                         JAPAN, answer, then])
    assert other.grokling["conversation_id"] != first.grokling["conversation_id"]


def test_feedback_on_an_api_reply_goes_into_the_next_cycles_training_data(api, store):
    client = client_of(api)
    question = {"role": "user", "content": "Who founded Zorblax Labs?"}
    completion = client.chat.completions.create(model="grokling", messages=[question])
    message_id = completion.grokling["message_id"]
    correction = "Mira Quell founded Zorblax Labs in 2041."
    answer = client.post("/feedback", body={"message_id": message_id, "correction": correction, "rating": -1},
                         cast_to=dict)
    assert answer == {"object": "grokling.feedback", "message_id": message_id,
                      "conversation_id": completion.grokling["conversation_id"], "rating": -1, "correction": correction}
    assert client.post("/feedback", body={"message_id": message_id, "rating": 0}, cast_to=dict)["rating"] == 0
    taught = collect.preview(store, Settings()).items
    assert [(i.question, i.answer, i.source.message_id) for i in taught] == [
        (question["content"], correction, message_id)]

    window_chat = store.new_conversation()
    store.add_user_message(window_chat, "Hi")
    window_reply = store.add_assistant_message(window_chat, "Hello!")
    for body, status in [({"message_id": window_reply, "rating": 1}, 404),  # the window's chats are not the API's
                         ({"message_id": message_id - 1, "rating": 1}, 404),  # the user's question, not a reply
                         ({"message_id": 10**6, "rating": 1}, 404), ({"message_id": message_id}, 400),
                         ({"message_id": message_id, "rating": 2}, 400), ({"message_id": message_id, "correction": " "}, 400),
                         ({"message_id": "1", "rating": 1}, 400)]:
        refused = httpx.post(f"{api.url}/feedback", json=body)
        assert refused.status_code == status and refused.json()["error"]["message"], body
    assert store.message(window_reply).rating == 0


def test_the_api_key_is_required_when_one_is_set(store, embedded_engine):
    server = serve(store, embedded_engine, api_key="s3cret-key")
    try:
        with pytest.raises(openai.AuthenticationError):
            client_of(server, "wrong").models.list()
        assert httpx.get(f"{server.url}/models").status_code == 401
        refused = httpx.post(f"{server.url}/chat/completions", json={"messages": [JAPAN]})
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert store.conversations() == []
        completion = client_of(server, "s3cret-key").chat.completions.create(model="grokling", messages=[JAPAN])
        assert completion.choices[0].message.content
    finally:
        server.stop()


@pytest.mark.parametrize("body, says", [
    ({}, "'messages' must be a non-empty list"),
    ({"messages": []}, "'messages' must be a non-empty list"),
    ({"messages": [JAPAN, {"role": "assistant", "content": "Tokyo."}]}, "the last message must be the user's"),
    ({"messages": [{"role": "user", "content": "  "}]}, "messages[0] is empty"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "role must be system, user or assistant"),
    ({"messages": [JAPAN, {"role": "system", "content": "late"}, JAPAN]}, "system messages must come before"),
    ({"messages": [{"role": "tool", "content": "42", "tool_call_id": "x"}, JAPAN]}, "tool calls are not supported"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, "text only"),
    ({"messages": [JAPAN], "temperature": 9}, "'temperature' must be a number from 0 to 2"),
    ({"messages": [JAPAN], "top_p": "high"}, "'top_p' must be a number"),
    ({"messages": [JAPAN], "max_tokens": 0}, "'max_tokens' must be an integer from 1"),
    ({"messages": [JAPAN], "max_tokens": 10**6}, "'max_tokens' must be an integer from 1 to 2047"),
    ({"messages": [JAPAN], "seed": 1.5}, "'seed' must be an integer"),
    ({"messages": [JAPAN], "stop": [""]}, "'stop' must be a non-empty string"),
    ({"messages": [JAPAN], "stream": "yes"}, "'stream' must be true or false"),
    ({"messages": [JAPAN], "n": 2}, "'n' must be 1"),
    ({"messages": [{"role": "user", "content": "data " * 3000}]}, "reads at most 2,048"),
    ({"messages": [{"role": "user", "content": "data " * 3000}], "stream": True}, "reads at most 2,048"),
])
def test_a_bad_request_gets_a_clear_400_never_a_traceback(api, body, says):
    answer = httpx.post(f"{api.url}/chat/completions", json=body)
    assert answer.status_code == 400 and answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert says in error["message"] and error["type"] == "invalid_request_error", error


def test_what_is_not_a_json_request_to_localhost_is_refused(api, store):
    url = f"{api.url}/chat/completions"
    assert httpx.post(url, content=json.dumps({"messages": [JAPAN]})).status_code == 415  # no JSON content type
    assert httpx.post(url, content="{not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert httpx.post(url, json=[JAPAN]).status_code == 400
    assert httpx.get(f"{api.url}/nothing").json()["error"]["type"] == "not_found_error"
    # A page in the browser reaching the port through a name it controls (DNS rebinding) is refused.
    rebound = httpx.post(url, json={"messages": [JAPAN]}, headers={"Host": f"evil.example:{api.port}"})
    assert rebound.status_code == 403
    assert store.conversations() == []
    with pytest.raises(openai.BadRequestError, match="reads at most"):
        client_of(api).chat.completions.create(model="grokling", messages=[{"role": "user", "content": "data " * 3000}])


def test_requests_while_one_generates_wait_their_turn(api, store):
    spans = {}

    def ask(name: str) -> None:
        stream = client_of(api).chat.completions.create(
            model="grokling", messages=[{"role": "user", "content": f"Write a short poem about {name}."}], stream=True,
            max_tokens=16)
        times = [time.monotonic() for chunk in stream if chunk.choices and chunk.choices[0].delta.content]
        spans[name] = (times[0], times[-1])

    threads = [threading.Thread(target=ask, args=(name,)) for name in ("rivers", "mountains", "cities")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    ordered = sorted(spans.values())
    assert len(ordered) == 3 and all(a[1] <= b[0] for a, b in zip(ordered, ordered[1:]))  # no two streams overlap
    replies = [m for c in store.conversations() for m in store.thread(c.id) if m.role == "assistant"]
    assert [r.status for r in replies] == ["complete"] * 3


def test_a_client_gone_mid_stream_leaves_its_reply_stored_as_stopped(api, store):
    body = {"messages": [{"role": "user", "content": "Tell me a long story about a dragon."}], "stream": True,
            "max_tokens": 200}
    with httpx.stream("POST", f"{api.url}/chat/completions", json=body) as answer:
        next(answer.iter_bytes())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replies = [m for c in store.conversations() for m in store.thread(c.id) if m.role == "assistant"]
        if replies:
            break
        time.sleep(0.1)
    [reply] = replies
    assert reply.status == "stopped" and reply.completion_tokens < 200
    assert client_of(api).chat.completions.create(model="grokling", messages=[JAPAN]).choices  # still serving


def test_grokling_serve_streams_to_the_openai_client_follows_the_live_version_and_stops_on_ctrl_c(
        grokling_home, promote_embedded, smollm2_checkpoint):
    env = {**os.environ, "GROKLING_HOME": str(grokling_home)}
    server = subprocess.Popen([GROKLING, "serve", "--port", "0", "--api-key", "k3y"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = server.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/v1", banner)[0]
        assert "(base)" in banner and "key required" in banner
        client = openai.OpenAI(base_url=url, api_key="k3y", max_retries=0)
        chunks = list(client.chat.completions.create(model="grokling", messages=[JAPAN], stream=True,
                                                     max_tokens=16, temperature=0))
        ids = [c.grokling for c in chunks if c.choices and c.choices[0].finish_reason][0]
        assert ids["model_version"] == "embedded/base"
        promote_embedded()  # a learning cycle put v1 live: the next exchange is answered by it
        assert client.models.list().data[0].grokling["version"] == "v1"
        answer = client.chat.completions.create(model="grokling", messages=[JAPAN], max_tokens=8)
        assert answer.grokling["model_version"] == "embedded/v1"
        assert answer.system_fingerprint == "grokling-embedded/v1"
        # Another model chosen (grokling models use, or the window): the next exchange is answered by it.
        adding.add(str(smollm2_checkpoint), gguf=str(embedded_gguf()), name="my SmolLM2")
        models.use("my SmolLM2")
        answer = client.chat.completions.create(model="grokling", messages=[JAPAN], max_tokens=8)
        assert answer.grokling["model_version"] == "my-smollm2/base"
        assert client.models.list().data[0].grokling == {"model": "my-smollm2", "version": "base", "name": "my SmolLM2"}
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert "Traceback" not in err and '"POST /v1/chat/completions HTTP/1.1" 200' in err
    with Store() as store:
        assert [c.source for c in store.conversations()] == ["api", "api", "api"]


def test_grokling_serve_refuses_a_port_in_use_clearly(grokling_home, store, embedded_engine):
    taken = serve(store, embedded_engine)
    try:
        refused = subprocess.run([GROKLING, "serve", "--port", str(taken.port)], capture_output=True, text=True,
                                 env={**os.environ, "GROKLING_HOME": str(grokling_home)}, timeout=120)
    finally:
        taken.stop()
    assert refused.returncode == 2 and f"cannot listen on 127.0.0.1:{taken.port}" in refused.stderr
    assert "Traceback" not in refused.stderr
