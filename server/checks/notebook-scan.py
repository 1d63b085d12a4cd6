# Run inside the lab by the `notebook` check (server/checks/notebook.ts), as the lab's user, with
# the lab's Python in isolated mode (-I: no PYTHON* variables, no user site, no current folder on
# sys.path, so a json.py in the workspace is never imported). The notebooks are the learner's:
# possibly huge, malformed or hostile, so every step is bounded (entries walked, notebooks read,
# bytes per notebook, memory, time) and nothing but regular files is opened.
# Reads one JSON object on stdin (see NotebookScanRequest in notebook.ts), prints one JSON line.
import json
import os
import re
import resource
import stat
import sys
import time

started = time.monotonic()
request = json.loads(sys.stdin.read(1 << 16))
MAX_BYTES = request["maxBytes"]
MAX_NOTEBOOKS = request["maxNotebooks"]
MAX_DEPTH = request["maxDepth"]
MAX_ENTRIES = request["maxEntries"]
# Stop reading more notebooks past this, so the answer comes before the server's deadline.
BUDGET = request["budgetMs"] / 1000
# A parsed notebook takes many times its size in memory: past this, json raises MemoryError
# instead of the lab's memory limit killing whatever else runs there.
resource.setrlimit(resource.RLIMIT_AS, (request["maxMemory"], request["maxMemory"]))

try:
    source_pattern = re.compile(request["source"], re.MULTILINE)
    output_pattern = re.compile(request["output"], re.MULTILINE) if request.get("output") is not None else None
except re.error as error:
    print(json.dumps({"error": "pattern: " + str(error)[:120]}))
    sys.exit(0)

home = request["home"]
root = request["root"]
shown = 3  # names the answer lists, for a sentence


def relative(path):
    return os.path.relpath(path, root) if path.startswith(root + "/") else path


def walk(top):
    """Regular files named *.ipynb up to MAX_DEPTH folders below top, newest first; no link followed."""
    found, entries, stack = [], 0, [(top, 0)]
    while stack and entries < MAX_ENTRIES:
        folder, depth = stack.pop()
        try:
            listing = os.scandir(folder)
        except OSError:
            continue
        with listing:
            for entry in listing:
                entries += 1
                if entries > MAX_ENTRIES:
                    break
                try:
                    # Hidden folders (.ipynb_checkpoints, .git, .cache…) hold no notebook of the learner's.
                    if entry.is_dir(follow_symlinks=False):
                        if depth < MAX_DEPTH and not entry.name.startswith("."):
                            stack.append((entry.path, depth + 1))
                    elif entry.name.endswith(".ipynb") and entry.is_file(follow_symlinks=False):
                        found.append((entry.stat(follow_symlinks=False).st_mtime, entry.path))
                except OSError:
                    continue
    found.sort(reverse=True)
    return [path for _, path in found[:MAX_NOTEBOOKS]]


def read(path):
    """The notebook's bytes, or 'tooLarge' / 'unreadable'; a link, a fifo or a device is not opened as one."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return "unreadable"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "unreadable"
        if info.st_size > MAX_BYTES:
            return "tooLarge"
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return "tooLarge" if size > MAX_BYTES else b"".join(chunks)
    except OSError:
        return "unreadable"
    finally:
        os.close(fd)


def text(value):
    """nbformat keeps multi-line strings as a string or a list of lines."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(part for part in value if isinstance(part, str))
    return ""


def outputs_of(cell):
    """What a cell showed: stream text, text/plain of results and displays, and errors."""
    outputs = cell.get("outputs")
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict):
            continue
        kind = output.get("output_type")
        if kind == "stream":
            yield text(output.get("text"))
        elif kind in ("execute_result", "display_data"):
            data = output.get("data")
            if isinstance(data, dict):
                yield text(data.get("text/plain"))
        elif kind == "error":
            yield text(output.get("ename")) + ": " + text(output.get("evalue"))


def error_of(cell):
    outputs = cell.get("outputs")
    for output in outputs if isinstance(outputs, list) else []:
        if isinstance(output, dict) and output.get("output_type") == "error":
            return (text(output.get("ename")) + ": " + text(output.get("evalue")))[:200]
    return None


def scan(notebook):
    """(executed code cells, matched, the error of a cell whose source matched but not its output)."""
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return None
    executed, near, near_error = 0, False, None
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        count = cell.get("execution_count")
        if not isinstance(count, int) or isinstance(count, bool):
            continue
        executed += 1
        if not source_pattern.search(text(cell.get("source"))):
            continue
        if output_pattern is None or any(output_pattern.search(out) for out in outputs_of(cell)):
            return executed, True, None
        near, near_error = True, near_error or error_of(cell)
    return executed, False, (near_error or "") if near else None


answer = {"notebooks": 0, "read": 0, "executed": 0, "names": [], "tooLarge": [], "unreadable": [], "matched": None, "near": None, "partial": False}
if request.get("path") is not None:
    path = request["path"]
    real = os.path.realpath(path)
    if not os.path.lexists(path):
        paths = []
    elif real != home and not real.startswith(home + "/"):
        answer["outside"] = True
        paths = []
    else:
        paths = [path]
else:
    paths = walk(root)

answer["notebooks"] = len(paths)
busiest = (0, None)
for path in paths:
    if time.monotonic() - started > BUDGET:
        answer["partial"] = True
        break
    name = relative(path)
    if len(answer["names"]) < shown:
        answer["names"].append(name)
    data = read(path)
    if isinstance(data, str):
        if len(answer[data]) < shown:
            answer[data].append(name)
        continue
    try:
        result = scan(json.loads(data))
    except (ValueError, RecursionError, MemoryError):
        result = None
    data = None
    if result is None:
        if len(answer["unreadable"]) < shown:
            answer["unreadable"].append(name)
        continue
    executed, matched, near = result
    answer["read"] += 1
    answer["executed"] += executed
    if executed > busiest[0]:
        busiest = (executed, name)
    if matched:
        answer["matched"] = name
        break
    if near is not None and answer["near"] is None:
        answer["near"] = {"name": name, "error": near or None}
answer["busiest"] = busiest[1]
print(json.dumps(answer))
