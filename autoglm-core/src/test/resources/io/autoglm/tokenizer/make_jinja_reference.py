# Writes jinja_python_reference.json: small templates rendered by Python's Jinja2 (3.1.6) set up as transformers
# sets it up for chat templates (trim_blocks, lstrip_blocks, loopcontrols, json.dumps tojson). Run: python3 make_jinja_reference.py > jinja_python_reference.json
import json
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import loopcontrols
def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
x = {"a": 1, "b": [1.5, 1e-07, 1e16, 2.0, -0.25, True, None, "é\n\"q\"\t\u0001\u007f\\ 中"], "c": {}, "d": []}
cases = [
 ("{{ x | tojson }}", {"x": x}),
 ("{{ x | tojson(indent=2) }}", {"x": x}),
 ("{{ x | tojson(ensure_ascii=True) }}", {"x": x}),
 ("{{ x | tojson(separators=(',', ':'), sort_keys=True) }}", {"x": {"z": 1, "a": [1, 2]}}),
 ("[{{ s.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ s.lstrip() }}|{{ s.rstrip() }}]", {"s": "  a b \n"}),
 ("{{ 'a,b,,c,'.split(',')[-1] }}|{{ 'a,b,,c,'.split(',') | length }}|{{ ' a  b '.split() | join('/') }}|{{ 'a-b-c'.split('-', 1)[1] }}", {}),
 ("{{ 'Hello'.endswith('lo') }}|{{ 'Hello'.startswith('x') }}", {}),
 ("{% if 'Hello'.endswith('lo') %}yes{% endif %}|{{ 'ab'.upper() }}{{ 'AB'.lower() }}|{{ 'hello world'.title() }}", {}),
 ("a\n", {}),
 ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {"d": {"b": 1, "a": "x"}}),
 ("{%- set ns = namespace(n=0) %}{% for m in ms %}{% if m is string %}{% set ns.n = ns.n + 1 %}{% endif %}{% endfor %}{{ ns.n }}", {"ms": ["a", 1, "b", {"k": 1}]}),
 ("{% for i in xs %}{{ loop.index0 }}{{ '!' if loop.last else ',' }}{% endfor %}", {"xs": [5, 6, 7]}),
 ("{{ 7 // 2 }} {{ 7 / 2 }} {{ 2 ** 3 }} {{ 7 % 3 }}", {}),
 ("{{ xs[-1] }}{{ xs[0] }}|{{ 'abc'[1:] }}|{{ xs | length }}", {"xs": [1, 2, 3]}),
 ("{% if m.tool_calls %}T{% else %}F{% endif %}{% if m.missing is defined %}D{% endif %}{{ m.missing }}", {"m": {"role": "user"}}),
 ("  {% if true %}\n    x\n  {% endif %}\nend", {}),
 ("{{- '  a  ' -}}\n  {{ 'b' }}  {#- comment -#}  c", {}),
 ("{% macro f(c) -%}{{ c | upper }}{%- endmacro %}{{ f('x') + 'y' }}", {}),
 ("{{ 'a' ~ 1 ~ 'b' }}|{{ 'x' in 'xyz' }}|{% if 'q' not in xs %}no{% endif %}", {"xs": ["a"]}),
 ("{{ xs }}|{{ d }}|{{ true }}|{{ 1.0 }}|{{ x }}", {"xs": ["a", 1], "d": {"k": "v"}, "x": False}),
 ("{{ d | tojson }}|{{ d.keys() | list | join(',') }}", {"d": {"k2": [1, {"n": None}], "k1": False}}),
 # Python's str() of strings (kept as they are, NUL included), floats and lists/dicts (repr, with its quoting and escapes)
 ("[{{ s }}]{{ s | length }}|{{ s ~ '!' }}|{{ s.strip() }}|{{ s | string }}", {"s": "a\x00b\x01\x1f\x7f\u2028\ufeff"}),
 ("{{ 1e-07 }} {{ 1e16 }} {{ 0.1 + 0.2 }} {{ x }} {{ y }}", {"x": 2.5e-05, "y": -0.0}),
 ("{{ xs }}", {"xs": ["it's", 'say "hi"', "both ' and \"", "back\\slash", "\x00\x07\x08\t\n\x0b\x0c\r\x1b\x7f"]}),
 ("{{ xs }}", {"xs": ["\xa0\xad\u200b\u2028\u2029\u3000\ufeff\ue000\U000f0000", "é中😀\u0301"]}),
 ("{{ d }}|{{ d.a }}|{{ d['b'] }}", {"d": {"a": [1, 2.0, None, True, {}], "b": {"c": []}, "e": ""}}),
 ("{% for p in parts %}{{ p }};{% endfor %}{{ parts[0].text }}", {"parts": [{"type": "text", "text": "x\x00y"}]}),
]
out = []
for t, ctx in cases:
    out.append({"template": t, "context": ctx, "expected": env.from_string(t).render(**ctx)})
print(json.dumps(out, ensure_ascii=False, indent=1))
