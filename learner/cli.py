"""grokling's command line: the same core as the window, no Qt.

    grokling ask "QUESTION" [--temperature T] [--conversation ID]
    grokling correct --question Q --answer A
    grokling export --format jsonl [--output FILE] | grokling export --conversation ID --format md|json
    grokling serve [--port N] [--api-key KEY]
    grokling export-model DIR [--ollama NAME]
    grokling learn --now
    grokling models [--json] | models add SOURCE [--gguf FILE] [--name NAME] | models use NAME | models remove NAME
    grokling versions [--json]
    grokling rollback [VERSION]
    grokling topics [--approve NAME | --block NAME | --add NAME] [--consent yes|no] [--json]
    grokling accept|reject [VERSION]
    grokling data export FILE.zip [--with-models] | grokling data delete --yes
    grokling chats [--json] | grokling chats delete ID [--yes]

Exit status: 0 done; 1 the model failed to answer (the reason is printed and stored);
2 bad input, settings or model file. `learn` exits with the cycle's status (see
learner/cycle.py): 0 a new version is live, 3 nothing to learn, 4 gated out, 5 busy,
6 waiting for your approval. `data delete` exits 5 while a cycle runs or a window is open.
`chats delete` exits 1 when you answer no. `export-model --ollama` exits 1 when ollama is
missing or fails (the folder is written). `serve` runs until Ctrl+C.
"""

import argparse
import dataclasses
import json
import sqlite3
import sys
import threading
from datetime import datetime
from pathlib import Path

from learner import __version__, paths
from learner.chat.turn import send
from learner.chat.engine import Engine, EngineError, Sampling
from learner.chat.served import ModelNotFoundError
from learner.paths import DataDirError
from learner.settings import Settings, SettingsError
from learner.store import NotFoundError, Store
from learner.versions import VersionError
from learner.files import atomic_write_text
from learner.textclean import EmptyMessageError, clean_message


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 0 to 65535, not {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grokling", description="A local chat assistant that learns from you.")
    parser.add_argument("--version", action="version", version=f"grokling {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = commands.add_parser("ask", help="ask the live model a question; stored like a chat")
    ask.add_argument("question")
    ask.add_argument("--temperature", type=float, help="sampling temperature (default: settings)")
    ask.add_argument("--seed", type=int, help="sampling seed, for repeatable answers")
    ask.add_argument("--conversation", type=int, metavar="ID", help="continue this conversation")

    correct = commands.add_parser("correct", help="ask a question and record the right answer for the learner")
    correct.add_argument("--question", required=True)
    correct.add_argument("--answer", required=True, help="what the assistant should have said")
    correct.add_argument("--temperature", type=float)
    correct.add_argument("--seed", type=int)

    export = commands.add_parser("export", help="write every conversation (or one) with its feedback")
    export.add_argument("--conversation", type=int, metavar="ID", help="only this conversation (see grokling chats)")
    export.add_argument("--format", choices=["jsonl", "md", "json"], default="jsonl",
                        help="jsonl: a conversation a line; md (Markdown) and json: one conversation, with --conversation")
    export.add_argument("--output", "-o", help="file to write (default: standard output)")

    serve = commands.add_parser("serve", help="an OpenAI-compatible API on 127.0.0.1 for other apps, answered by the "
                                              "active model's live version; chats are stored")
    serve.add_argument("--port", type=_port, help="default: the api_port setting (8765); 0 picks a free one")
    serve.add_argument("--api-key", help="a key clients must send as Authorization: Bearer KEY "
                                         "(default: the api_key setting; none: no key)")

    export_model = commands.add_parser("export-model", help="write the active model's live version (GGUF) with an "
                                                            "Ollama Modelfile")
    export_model.add_argument("folder", help="where to write it (made if missing)")
    export_model.add_argument("--ollama", metavar="NAME", help="then run `ollama create NAME` on it")

    learn = commands.add_parser("learn", help="run one learning cycle now, with a progress bar")
    learn.add_argument("--now", action="store_true", required=True, help="start the cycle immediately")

    model = commands.add_parser("models", help="the models you chat with and teach (active one marked); add, use, "
                                                "remove one")
    model.add_argument("--json", action="store_true")
    model_commands = model.add_subparsers(dest="models_command")
    model_add = model_commands.add_parser(
        "add", help="add an HF checkpoint, converted to GGUF by grokling; or, with --gguf, a GGUF and the checkpoint "
                    "it came from")
    model_add.add_argument("source", help="an HF checkpoint folder, or a hub id (owner/name) to download")
    model_add.add_argument("--gguf", metavar="FILE", help="a GGUF made from SOURCE, served as it is")
    model_add.add_argument("--name", help="what to call it (default: the GGUF's name, else the folder's)")
    model_use = model_commands.add_parser("use", help="chat with and teach this model from now on")
    model_use.add_argument("name")
    model_remove = model_commands.add_parser("remove", help="delete a model and what grokling made for it (its "
                                                            "versions, its conversion or download); not the active one")
    model_remove.add_argument("name")

    listing = commands.add_parser("versions", help="list the active model's versions (live one marked)")
    listing.add_argument("--json", action="store_true")

    rollback = commands.add_parser("rollback", help="make an earlier version of the active model (or 'base') live")
    rollback.add_argument("version", nargs="?", help="default: the version before the live one")

    for verb, help_text in (("accept", "make a candidate that waits for approval live"),
                            ("reject", "delete a candidate that waits for approval")):
        approval = commands.add_parser(verb, help=help_text)
        approval.add_argument("version", nargs="?", help="default: the newest one waiting")

    data = commands.add_parser("data", help="export all your data to one zip, or delete all of it")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    data_export = data_commands.add_parser("export", help="database, conversations, settings, version data")
    data_export.add_argument("zip", help="the .zip file to write")
    data_export.add_argument("--with-models", action="store_true", help="include the learned GGUFs (large)")
    data_delete = data_commands.add_parser("delete", help="delete everything grokling keeps (not your own files "
                                                          "in its folder); quit the window first")
    data_delete.add_argument("--yes", action="store_true", required=True, help="yes, delete everything")

    chats = commands.add_parser("chats", help="list your chats, or delete one everywhere grokling keeps it")
    chats.add_argument("--json", action="store_true")
    chats_commands = chats.add_subparsers(dest="chats_command")
    chat_delete = chats_commands.add_parser("delete", help="delete a chat, with its training rows and backups")
    chat_delete.add_argument("id", type=int)
    chat_delete.add_argument("--yes", action="store_true", help="do not ask")

    topic = commands.add_parser("topics", help="what you talk about, and which topics the learner reads about")
    change = topic.add_mutually_exclusive_group()
    change.add_argument("--approve", metavar="NAME", help="read about this mined topic in the next cycles")
    change.add_argument("--block", metavar="NAME", help="never read about this topic")
    change.add_argument("--add", metavar="NAME", help="a topic of your own to read about")
    topic.add_argument("--consent", choices=["yes", "no"],
                       help="whether the topics you approve may be searched for on Wikipedia (asked once by the window)")
    topic.add_argument("--json", action="store_true")
    topic.add_argument("--limit", type=int, default=30)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 0
    try:
        return COMMANDS[args.command](args)
    except (SettingsError, EngineError, ModelNotFoundError, EmptyMessageError, NotFoundError, ValueError,
            DataDirError, VersionError) as e:
        print(f"grokling: {e}", file=sys.stderr)
        return 2
    except sqlite3.OperationalError as e:  # a full disk, a locked or unwritable database
        print(f"grokling: the database could not be written ({e}); nothing was changed", file=sys.stderr)
        return 2


def _ask_and_stream(store: Store, conversation_id: int, question: str, args) -> int | None:
    """Stream the live model's reply to stdout; the stored reply's id, or None if it failed."""
    settings = Settings.load()
    engine = Engine.from_settings(settings)
    try:
        sampling = Sampling.from_settings(settings, temperature=args.temperature, seed=args.seed)
        reply = send(store, engine, conversation_id, question, settings, sampling=sampling)
        for piece in reply:
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
    finally:
        engine.close()
    if reply.message.status == "error":
        print(f"grokling: the model failed to answer: {reply.message.error}", file=sys.stderr)
        return None
    return reply.message.id


def cmd_ask(args) -> int:
    clean_message(args.question)  # refuse an empty question before creating anything
    store = Store()
    conversation_id = args.conversation
    if conversation_id is None:
        conversation_id = store.new_conversation(source="cli")
    else:
        store.conversation(conversation_id)  # a clear error for an unknown id, before loading the model
    return 0 if _ask_and_stream(store, conversation_id, args.question, args) is not None else 1


def cmd_correct(args) -> int:
    clean_message(args.question)
    clean_message(args.answer)
    store = Store()
    conversation_id = store.new_conversation(source="cli")
    reply_id = _ask_and_stream(store, conversation_id, args.question, args)
    if reply_id is None:
        return 1
    store.correct(reply_id, args.answer)
    print(f"Correction saved (conversation {conversation_id}, message {reply_id}).", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    from learner import transcript

    store = Store()
    if args.conversation is None and args.format != "jsonl":
        raise ValueError(f"--format {args.format} writes one conversation: add --conversation ID (see grokling chats)")
    if args.format == "md":
        text = transcript.conversation_markdown(store, args.conversation)
    elif args.format == "json":
        text = transcript.conversation_json(store, args.conversation)
    else:
        records = [store.export_conversation(args.conversation)] if args.conversation else store.export_conversations()
        text = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in records)
    if args.output:
        atomic_write_text(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_serve(args) -> int:
    import logging

    from learner.api import ApiServer, ServeError

    settings = Settings.load()

    def current_settings() -> Settings:
        # Read again for each exchange, so a change made in the window applies to the next one; a file
        # broken meanwhile leaves the last good settings in force.
        nonlocal settings
        try:
            settings = Settings.load_with_problems()[0]
        except SettingsError:
            pass
        return settings

    port = settings.api_port if args.port is None else args.port
    # A key given here is checked as the setting is (it travels in a header).
    api_key = settings.api_key if args.api_key is None else dataclasses.replace(settings, api_key=args.api_key).api_key
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # a line per request, on stderr
    store = Store()
    engine = Engine.from_settings(settings)
    server = ApiServer(store, current_settings, port=port, api_key=api_key, follow_live=True)
    try:
        server.start(engine)
        print(f"grokling serves {engine.model.display_name} ({engine.model.version}) at {server.url}"
              f"{' (key required)' if server.api_key else ''}; Ctrl+C stops", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    except ServeError as e:
        print(f"grokling: {e}", file=sys.stderr)
        return 2
    finally:
        server.stop()
        engine.close()
    return 0


def cmd_export_model(args) -> int:
    from learner import model_export

    exported = model_export.export_model(Path(args.folder), Settings.load())
    print(f"wrote {exported.gguf.name} ({exported.model.display_name}, version {exported.model.version}), "
          f"{model_export.MODELFILE} and "
          f"{model_export.README} to {exported.folder}")
    if not exported.chatml:
        print("the Modelfile has no TEMPLATE (the model's chat template is not ChatML): "
              "Ollama picks one matching the GGUF's own")
    if args.ollama:
        try:
            model_export.ollama_create(args.ollama, exported.folder)
        except model_export.OllamaError as e:
            print(f"grokling: {e}", file=sys.stderr)
            return 1
        print(f"created the Ollama model {args.ollama}: ollama run {args.ollama}")
    return 0


def cmd_learn(args) -> int:
    from learner.learning.job import LearningJob

    job = LearningJob()
    width = 30

    def show(event: dict) -> None:
        if event["event"] == "progress":
            filled = int(width * event["percent"] / 100)
            line = f"\r{event['stage']:>9} [{'#' * filled}{'.' * (width - filled)}] {event['percent']:5.1f}% {event['message'][:60]:<60}"
            sys.stderr.write(line)
            sys.stderr.flush()

    try:
        result = job.run(show)
    except KeyboardInterrupt:
        job.cancel()
        result = job.wait()
    sys.stderr.write("\n")
    print(result.reason)
    if result.metrics:
        print(json.dumps({"metrics": result.metrics, "timings": result.timings}, indent=2))
    return result.code


def cmd_models(args) -> int:
    from learner import models
    from learner.models import adding

    if note := adding.adopt_retired_settings():
        print(f"grokling: {note}", file=sys.stderr)
    if args.models_command == "add":
        def show(message: str, percent: float | None) -> None:
            sys.stderr.write(f"\r{message[:70]:<70}" + (f" {percent:5.1f}%" if percent is not None else " " * 7))
            sys.stderr.flush()

        try:
            model = adding.add(args.source, args.gguf, args.name, Settings.load().quant, show)
        finally:
            sys.stderr.write("\n")
        print(f"added {model.name!r} ({model.architecture}, {model.size_bytes() / 1e6:.0f} MB): "
              f"grokling models use {_quoted(model.name)}")
        return 0
    if args.models_command == "use":
        model = models.use(args.name)
        print(f"{model.name} answers from now on (version {model.lineage.live_name()})")
        return 0
    if args.models_command == "remove":
        model = models.remove(args.name)
        print(f"removed {model.name!r} and its versions")
        return 0
    active = models.active().id
    rows = [{"name": m.name, "id": m.id, "active": m.id == active, "source": m.source, "architecture": m.architecture,
             "bytes": m.size_bytes(), "parameters": m.parameters, "gguf": str(m.gguf),
             "checkpoint": str(m.checkpoint) if m.checkpoint else None, "origin": m.origin, "revision": m.revision,
             "live_version": m.lineage.live_name(), "versions": models.version_meta(m)} for m in models.all_models()]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        listed = " ".join(v["version"] + ("*" if v["live"] else "") for v in r["versions"]) or "none learned yet"
        print(f"{'*' if r['active'] else ' '} {r['name']:<{width}}  {models.SOURCES[r['source']]:<44} "
              f"{r['architecture']:<10} {r['bytes'] / 1e6:6.0f} MB  versions: {listed}")
    print("* the active model; a version marked * is its live one (grokling models use NAME switches)")
    return 0


def _quoted(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else f'"{name}"'


def cmd_versions(args) -> int:
    from learner import models, versions

    settings = Settings.load()
    model = models.active()
    lineage = model.lineage
    live = lineage.live_name()
    rows = [{"version": versions.BASE, "live": live == versions.BASE, "gguf": str(model.gguf),
             "metrics": None, "created_at": None}]
    waiting = set(lineage.pending_names())
    for v in lineage.all_versions():
        rows.append({"version": v.name, "live": v.name == live, "gguf": str(v.gguf), "metrics": v.meta.get("metrics"),
                     "created_at": v.meta.get("created_at"), "awaiting_approval": v.name in waiting,
                     "bytes": versions.folder_bytes(v.path)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    data = paths.data_dir()
    sizes = {name: versions.folder_bytes(folder) / 1e6 for name, folder in
             (("versions", lineage.folder), ("runs", data / "runs"), ("base", data / "base"))}
    print(f"{model.name}: versions {sizes['versions']:.0f} MB (budget {settings.versions_budget_mb} MB), "
          f"recent cycles {sizes['runs']:.0f} MB, derived checkpoints {sizes['base']:.0f} MB")
    for r in rows:
        m = r["metrics"] or {}
        scores = " ".join(f"{name} {m[name]:.0%}" for name in ("learned", "kept") if m.get(name) is not None)
        waits = " (awaiting approval: grokling accept / reject)" if r.get("awaiting_approval") else ""
        size = f"{r['bytes'] / 1e6:5.0f} MB" if r.get("bytes") else " " * 8
        print(f"{'*' if r['live'] else ' '} {r['version']:<6} {scores:<24} {size} {r['gguf']}{waits}")
    return 0


def cmd_rollback(args) -> int:
    from learner import models

    with Store() as store:
        name = models.active().lineage.rollback(store, args.version)
    print(f"{name} is live")
    return 0


def cmd_approval(args) -> int:
    from learner import models

    lineage = models.active().lineage
    waiting = [v.name for v in lineage.awaiting_approval()]
    name = args.version or (waiting[-1] if waiting else None)
    if name is None:
        print("grokling: no version is waiting for approval", file=sys.stderr)
        return 2
    (lineage.accept if args.command == "accept" else lineage.reject)(name)
    print(f"{name} is live" if args.command == "accept" else f"{name} deleted")
    return 0


def cmd_data(args) -> int:
    from learner import userdata

    if args.data_command == "export":
        names = userdata.export_all(Path(args.zip), args.with_models)
        print(f"wrote {args.zip}: {len(names)} files")
        return 0
    try:
        home, left = userdata.delete_all()
    except userdata.DataBusyError as e:
        print(f"grokling: {e}", file=sys.stderr)
        return 5
    if left:
        print(f"deleted grokling's data in {home}; left {len(left)} files or folders that grokling did not make: "
              + ", ".join(left))
    else:
        print(f"deleted {home}")
    return 0


def cmd_chats(args) -> int:
    from learner import userdata

    store = Store()
    if args.chats_command == "delete":
        conversation = store.conversation(args.id)
        if not args.yes:
            print(f"Delete chat {conversation.id} “{conversation.title}”? [y/N] ", end="", flush=True)
            if sys.stdin.readline().strip().lower() not in ("y", "yes"):
                print("nothing deleted")
                return 1
        files_pruned = userdata.forget_conversation(store, conversation.id, Settings.load())
        print(f"deleted chat {conversation.id} “{conversation.title}”, its messages, feedback and training rows")
        if not files_pruned:
            print("a learning cycle is running: it takes the chat out of its training files as it ends")
        return 0
    chats = store.conversation_summaries()
    if args.json:
        print(json.dumps(chats, indent=2, ensure_ascii=False))
        return 0
    if not chats:
        print("No chats yet.")
    else:
        print(f"{'id':>5}  {'updated':<16}  {'from':<6}  {'messages':>8}  {'learning':<8}  title")
    for c in chats:
        updated = datetime.fromisoformat(c["updated_at"]).astimezone().strftime("%Y-%m-%d %H:%M")
        print(f"{c['id']:>5}  {updated:<16}  {c['source']:<6}  {c['messages']:>8}  {'yes' if c['learning'] else 'no':<8}  "
              f"{c['title']}")
    return 0


def cmd_topics(args) -> int:
    from learner.learning import knowledge, topics

    if args.consent is not None:
        Settings.change(wikipedia_consent=args.consent == "yes")
    settings = Settings.load()
    store = Store()
    for status, name in (("approved", args.approve), ("blocked", args.block), ("added", args.add)):
        if name is not None:
            topic = topics.set_status(store, name, status)
            print(f"{topic.name}: {status}", file=sys.stderr)
    topics.mine(store, settings)
    picked = {t.key for t in topics.to_learn(store, settings)} if settings.wikipedia_consent else set()
    listing = topics.listing(store, args.limit)
    if args.json:
        print(json.dumps([{**t.__dict__, "next_cycle": t.key in picked, "why": t.why()} for t in listing], indent=2))
        return 0
    print("Wikipedia reading: on (grokling topics --consent no stops it)" if settings.wikipedia_consent
          else knowledge.CONSENT_NEEDED)
    if not listing:
        print("No topics yet: they are mined from your messages.")
    for t in listing:
        article = f" -> {t.article_title}" if t.article_title else (" -> no article" if t.article_title == "" else "")
        mark = "*" if t.key in picked else " "
        print(f"{mark} {t.name:<28} {t.status:<8} score {t.score:6.2f}  {t.why()}{article}")
    if picked:
        print(f"* read about in the next cycle (at most {settings.topics_per_cycle})")
    if not settings.auto_approve_topics and any(t.status == "mined" for t in listing):
        print("Mined topics wait for your approval: grokling topics --approve NAME (or --block NAME)")
    return 0


COMMANDS = {"ask": cmd_ask, "correct": cmd_correct, "export": cmd_export, "learn": cmd_learn,
            "models": cmd_models, "versions": cmd_versions, "rollback": cmd_rollback, "topics": cmd_topics, "accept": cmd_approval,
            "reject": cmd_approval, "data": cmd_data, "chats": cmd_chats, "serve": cmd_serve,
            "export-model": cmd_export_model}

if __name__ == "__main__":
    sys.exit(main())
