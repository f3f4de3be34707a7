#!/usr/bin/env python3
"""Chat-template goldens rendered by transformers' apply_chat_template(tokenize=False).

Writes {source, cases: [{name, template, messages, tools, kwargs, text}], failed: [{name, error}]} where `template` names the Jinja template
used: "glm-4-9b-chat-hf" (the template in that folder's tokenizer_config.json) or "glm-4.5" (that folder's
chat_template.jinja, passed as chat_template= to the glm-4-9b-chat-hf tokenizer: GLM-4.5 ships no tokenizer.json
here, and the rendered text does not depend on the vocabulary). `kwargs` are the further apply_chat_template
arguments (add_generation_prompt, enable_thinking, ...).

The cases cover content given as a list of text parts (system, user, assistant, tool), tools (for glm-4-9b-chat as
its users pass them: in a system message's `tools` key, as GLM-4's own openai_api_server.py does; for GLM-4.5 as
the `tools` argument), a tool call and its result, and NUL and other control characters in every place.

Run where torch and transformers are installed (the GPU machine):
  python3 make_chat_goldens.py GLM4_HF_DIR GLM45_DIR OUT.json
"""
import json
import platform
import sys

import transformers
from transformers import AutoTokenizer

CONTROL = "nul[\x00] soh[\x01] bel[\x07] bs[\b] tab[\t] lf[\n] vt[\x0b] ff[\x0c] cr[\r] esc[\x1b] us[\x1f] del[\x7f]"
UNICODE = "nbsp[\xa0] shy[\xad] zwsp[\u200b] ls[\u2028] bom[\ufeff] pua[\ue000] é中 😀"
QUOTES = "it's \"quoted\" back\\slash"

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "查询城市天气 (weather lookup) with \"quotes\" and a tab\t",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "城市名"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7, "default": 1},
                "threshold": {"type": "number", "default": 0.5, "exclusiveMinimum": 1e-07},
                "units": {"type": "string", "enum": ["c", "f"]},
                "verbose": {"type": "boolean", "default": False},
                "tags": {"type": ["array", "null"], "items": {"type": "string"}},
            },
            "required": ["city"],
        },
    },
}
SEARCH = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web. Control chars: " + CONTROL,
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
    },
}


def parts(*texts):
    return [{"type": "text", "text": t} for t in texts]


def glm4_cases():
    tools_message = {"role": "system", "content": "", "tools": [WEATHER, SEARCH]}
    return [
        ("list-content", [
            {"role": "system", "content": parts("You are ", "terse.")},
            {"role": "user", "content": parts("part one ", "part two")},
            {"role": "assistant", "content": parts("answer ", "two parts")},
            {"role": "user", "content": "a plain string after lists"},
        ], None, {"add_generation_prompt": True}),
        ("list-content-escapes", [
            {"role": "user", "content": parts(QUOTES, CONTROL, UNICODE, "only 'single'", "only \"double\"", "")},
        ], None, {"add_generation_prompt": True}),
        ("list-content-empty", [
            {"role": "user", "content": []},
            {"role": "user", "content": parts("")},
        ], None, {"add_generation_prompt": False}),
        ("tools-system-message", [
            tools_message,
            {"role": "system", "content": "Answer in English."},
            {"role": "user", "content": "What's the weather in Paris?"},
        ], None, {"add_generation_prompt": True}),
        ("tools-call-and-result", [
            tools_message,
            {"role": "user", "content": "北京明天天气怎么样？"},
            {"role": "assistant", "metadata": "get_weather", "content": "{\"city\": \"北京\", \"days\": 1}"},
            {"role": "observation", "content": "{\"temp\": 21, \"sky\": \"晴\"}"},
        ], None, {"add_generation_prompt": True}),
        ("control-chars", [
            {"role": "system", "content": CONTROL},
            {"role": "user", "content": "\x00"},
            {"role": "assistant", "content": UNICODE + " " + QUOTES},
            {"role": "user", "content": "tail NUL\x00"},
        ], None, {"add_generation_prompt": True}),
    ]


def glm45_cases():
    call = {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
        "name": "get_weather",
        "arguments": {"city": "北京\x00", "days": 1, "threshold": 0.25, "tags": ["a", "b\t"], "verbose": True,
                      "none": None, "nested": {"k": [1, 2.0]}}}}]}
    return [
        ("list-content", [
            {"role": "system", "content": parts("You are ", "terse.")},
            {"role": "user", "content": parts("part one ", "part two")},
            {"role": "assistant", "content": parts("answer ", "two parts")},
            {"role": "user", "content": parts("think ", "/nothink")},
        ], None, {"add_generation_prompt": True, "enable_thinking": False}),
        ("list-content-reasoning", [
            {"role": "user", "content": parts("2+2?")},
            {"role": "assistant", "content": parts("<think>\nadd", " them\n</think>\n", "4")},
        ], None, {"add_generation_prompt": False}),
        ("tools-call-and-result", [
            {"role": "system", "content": "You help with weather."},
            {"role": "user", "content": "北京明天天气怎么样？"},
            call,
            {"role": "tool", "content": "{\"temp\": 21, \"sky\": \"晴\"}"},
            {"role": "tool", "content": "second result\x00"},
        ], [WEATHER, SEARCH], {"add_generation_prompt": True}),
        ("tool-result-list-content", [
            {"role": "user", "content": "go"},
            call,
            {"role": "tool", "content": parts("result one", QUOTES + " " + CONTROL)},
        ], [WEATHER], {"add_generation_prompt": True}),
        ("strip-unicode-whitespace", [
            {"role": "user", "content": "\x1c\x1f\xa0\u2028 padded \u3000\x85\x0b"},
            {"role": "assistant", "content": "\x1c\x1f\xa0\u2028 padded \u3000\x85\x0b\u200b"},
        ], None, {"add_generation_prompt": True}),
        ("control-chars", [
            {"role": "system", "content": CONTROL},
            {"role": "user", "content": parts(CONTROL, UNICODE)},
            {"role": "assistant", "content": UNICODE + " " + QUOTES},
            {"role": "user", "content": "\x00"},
        ], None, {"add_generation_prompt": True}),
    ]


def main(glm4_dir, glm45_dir, out_path):
    tokenizer = AutoTokenizer.from_pretrained(glm4_dir)
    with open(f"{glm45_dir}/chat_template.jinja", encoding="utf-8") as f:
        glm45_template = f.read()
    cases, failed = [], []
    for template_name, template, table in (("glm-4-9b-chat-hf", None, glm4_cases()),
                                           ("glm-4.5", glm45_template, glm45_cases())):
        for name, messages, tools, kwargs in table:
            try:
                text = tokenizer.apply_chat_template(messages, tools=tools, chat_template=template, tokenize=False,
                                                     **kwargs)
            except Exception as e:  # recorded, so one bad case does not lose the others
                failed.append({"name": f"{template_name}/{name}", "error": repr(e)})
                print(f"FAILED {template_name}/{name}: {e!r}")
                continue
            cases.append({"name": f"{template_name}/{name}", "template": template_name, "messages": messages,
                          "tools": tools, "kwargs": kwargs, "text": text})
    source = (f"tools/make_chat_goldens.py with transformers {transformers.__version__}, "
              f"jinja2 {__import__('jinja2').__version__}, Python {platform.python_version()}")
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"source": source, "cases": cases, "failed": failed}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases -> {out_path} ({source})")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: make_chat_goldens.py GLM4_HF_DIR GLM45_DIR OUT.json")
    main(*sys.argv[1:])
