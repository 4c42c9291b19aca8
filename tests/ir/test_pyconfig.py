"""The safe evaluator of Python configs: Python's results on the accepted subset, opaque values with their
reasons for everything else, and a located error for each budget. Nothing of a config ever runs."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from netc.ir import NetcError, read_file
from netc.ir.pyconfig import Budgets, Opaque, evaluate

FILE = "/data/setups/exp1/config.py"


def evaluated(text: str, budgets: Budgets = Budgets()) -> dict[str, Any]:
    return evaluate(FILE, ast.parse(text), budgets).values


def python_result(text: str) -> dict[str, Any]:
    """What Python itself computes (test snippets only; netc never executes a config)."""
    scope: dict[str, Any] = {"__file__": FILE, "__name__": "__returnn_config__"}
    exec(compile(text, FILE, "exec"), scope)  # noqa: S102 - our own snippets, the reference semantics
    return {k: v for k, v in scope.items()
            if not k.startswith("_") and not callable(v) and type(v).__name__ != "module"}


SUBSET = {
    "unpacking": """\
a, b = 1, 2
(c, d), e = [3, 4], 5
f, *g, h = range(6)
b, a = a, b
""",
    "augmented": """\
x = 3
x += 4
x *= 2
x //= 3
x **= 2
x -= 1
x %= 7
l = [1]
m = l
l += [2]
s = 'a'
s += 'b'
d = {'a': 1}
d['a'] += 5
d |= {'b': 2}
""",
    "subscripts": """\
net = {}
net['a'] = {'n': 1}
net['a']['n'] = 2
net['b'] = [0, 1, 2]
net['b'][-1] = 9
del net['b'][0]
""",
    "arithmetic": """\
a = 7 / 2
b = 7 // 2
c = -7 % 3
d = 2 ** 10
e = 2 ** -1
f = divmod(17, 5)
g = round(2.675, 2)
h = abs(-3.5)
i = 1 << 10
j = 0xff & 0x0f | 0x100 ^ 1
k = ~5
m = 1e-3 * 3
n = round(7.5)
""",
    "comparisons": """\
a = 1 < 2 <= 2 != 3
b = 'x' in 'xyz'
c = None is None
d = [1, 2] == [1, 2]
e = 3 not in [1, 2]
f = (1, 2) < (1, 3)
g = 2 > 1 > 3
""",
    "booleans": """\
a = 0 or 'x'
b = 1 and []
c = not []
d = None or 0 or 5
e = True and 0
""",
    "formatting": """\
i, name = 3, 'fw'
a = 'lstm%i_%s' % (i, name)
b = '%(x)s-%(y)03d' % {'x': 'q', 'y': 7}
c = '{}_{:>4}_{name}'.format(1, 'ab', name=name)
d = f'{i:02d}-{name!r}-{i * 1.5:.2f}'
e = '%5.1f|%-4s|' % (3.14159, 'x')
f = '{0[a]}'.format({'a': 5})
g = format(0.5, '.0%')
""",
    "indexing": """\
s = 'abcdef'
l = list(range(10))
a = s[1:4]
b = s[::-1]
c = l[-3:]
d = l[1:8:3]
e = (1, 2, 3)[1]
f = {'k': [1, {'z': 2}]}['k'][1]['z']
g = range(10)[2:5][1]
""",
    "displays": """\
a = [1, *[2, 3], 4]
b = (1,)
c = {1, 2, 2}
d = {'a': 1, **{'b': 2}, 'a': 3}
e = [[i * j for j in range(3) if j] for i in range(3)]
f = {k: v for k, v in zip('abc', range(3)) if v != 1}
g = {x % 3 for x in range(10)}
h = sum(x * x for x in range(5))
i = [(x, y) for x in range(3) for y in range(x)]
""",
    "control": """\
out = []
for i in range(10):
    if i % 2:
        continue
    elif i > 6:
        break
    else:
        out.append(i)
else:
    out.append('no break')
n = 0
while n < 5:
    n += 2
else:
    done = True
for j in []:
    pass
else:
    empty = True
""",
    "functions": """\
def f(a, b=2, *args, c=3, **kw):
    return [a, b, args, c, kw]
r1 = f(1)
r2 = f(1, 5, 6, 7, c=0, z=1)
r3 = f(*[1, 2], **{'c': 4})

def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)
r4 = fact(10)

def outer():
    k = 10
    def inner(x):
        return x + k
    return inner
r5 = outer()(5)
sq = lambda x, y=1: x * x + y
r6 = sq(3)
r7 = sorted(['bb', 'a', 'ccc'], key=lambda s: -len(s))
r8 = list(map(lambda x: x + 1, [1, 2]))
r9 = list(filter(None, [0, 1, '', 'a']))
r10 = max([3, 1, 2], key=lambda v: -v)
r12 = sorted(['bb', 'a'], key=len), min('ab', 'c', key=len)
def noreturn():
    pass
r11 = noreturn()
""",
    "scopes": """\
g = 1
def set_g():
    global g
    g = 2
set_g()
def local():
    g = 5
    return g
r = local()
def counter():
    n = 0
    def up():
        nonlocal n
        n += 1
        return n
    up()
    return up()
c = counter()
x = [i for i in range(3)]
""",
    "builtins": """\
a = len('abc') + len([1]) + len({})
b = min(3, 1, 2)
c = max([4, 9])
d = sorted({3: 0, 1: 0})
e = list(enumerate('ab', 1))
f = list(zip([1, 2], 'ab'))
g = list(reversed([1, 2]))
h = isinstance(3, (int, float)), isinstance('x', list), isinstance(True, int)
i = int('12') + int(3.9)
j = float('1e-2')
k = str(12) + str([1])
m = bool(0), bool('x')
n = tuple([1])
o = dict([('a', 1)], b=2)
p = set('aba')
q = any([0, 1]), all([])
r = repr('x')
s = chr(65)
""",
    "methods": """\
s = ' A,b;C '
a = s.strip().lower().split(',')
b = '-'.join(['x', 'y'])
c = s.replace(' ', '')
d = 'x'.zfill(3) + 'ab'.upper() + 'T'.center(3, '*')
e = 'abc'.startswith('ab'), 'a.b'.rsplit('.', 1)
l = [3, 1]
l.append(2)
l.extend((5, 4))
l.insert(0, 0)
p = l.pop()
l.remove(3)
l.sort()
l.reverse()
i = l.index(2) + l.count(1)
d2 = {'a': 1}
d2.update({'b': 2}, c=3)
d2.setdefault('d', []).append(1)
g = d2.get('z', 0), d2.pop('a'), sorted(d2.items()), list(d2.keys()), list(d2.values())
cp = d2.copy()
cp['new'] = 1
""",
    "os_path": """\
import os
import os.path as osp
from os.path import join
name = os.path.splitext(os.path.basename(__file__))[0]
base = os.path.dirname(__file__)
model = join(base, 'net-model', name)
p = osp.join('a', '/abs', 'b')
setup_name, ext = os.path.splitext(os.path.basename(__file__))
""",
    "try_except": """\
try:
    x = {}['missing']
except KeyError as e:
    x = 'default'
else:
    x = 'else'
finally:
    y = 1
try:
    z = 1 / 1
except (ZeroDivisionError, ValueError):
    z = 0
""",
    "misc": """\
a = [1, 2, 3]
del a[0]
b = 1 if a else 2
if (n := len(a)) > 1:
    c = n
assert c == 2
import copy
d = copy.deepcopy({'x': [1]})
e = copy.copy([1, 2])
d['x'].append(2)
""",
    "classes": """\
k = "module"
class TransformerNetwork:
    num_layers = 2
    k = "class body"
    def __init__(self, dim, **kwargs):
        self._init(dim, **kwargs)
    def _init(self, dim, dropout=0.1):
        self.dim = dim
        self.dropout = dropout
        self.count = 0
    def add_layer(self, d, name):
        self.count += 1
        d[name] = {"class": "linear", "n_out": self.dim, "dropout": self.dropout, "k": k}
    def build(self):
        d = {}
        for i in range(self.num_layers):
            self.add_layer(d, "l%i" % i)
        d["output"] = {"class": "softmax", "from": "l%i" % (self.count - 1)}
        return d
class Plain(object):
    pass
network = TransformerNetwork(5, dropout=0.2).build()
layers = TransformerNetwork.num_layers
Plain()
""",
}


@pytest.mark.parametrize("name", sorted(SUBSET))
def test_accepted_subset_computes_what_python_computes(name: str) -> None:
    text = SUBSET[name]
    assert evaluated(text) == python_result(text)


def test_a_class_netc_does_not_evaluate_makes_its_name_opaque_and_a_missing_attribute_is_pythons_error() -> None:
    values = evaluated("class A(dict):\n    pass\nx = A()\nclass B:\n    pass\ny = B().missing\nz = B()\n")
    assert values["x"].reason == "class 'A' has base classes, which netc does not evaluate"
    assert isinstance(values["y"], Opaque) and "no attribute 'missing'" in values["y"].reason
    assert values["z"].reason == "<B object> of the config, not data"
    dunder = evaluated("class C:\n    pass\nx = C().__dict__\n")
    assert dunder["x"].reason == "the attribute .__dict__ of <C object> is not evaluated"


@pytest.mark.parametrize("call", ["a.set()", "A(d)", "a.set_global()", "f(a)"])
def test_a_method_or_class_called_under_an_opaque_condition_makes_what_it_may_change_opaque(call: str) -> None:
    values = evaluated(
        "import os\ng = 1\nd = {'k': 1}\nclass A:\n    def __init__(self, d=None):\n        self.v = 1\n"
        "        if d is not None:\n            d['k'] = 2\n    def set(self):\n        self.v = 2\n"
        "    def set_global(self):\n        global g\n        g = 2\n"
        "def f(obj):\n    obj.v = 3\n"
        f"a = A()\nif os.environ.get('X'):\n    {call}\nv = a.v\nk = d['k']\nglobal_g = g\nother = 5\n")
    changed = {"a.set()": "v", "A(d)": "k", "a.set_global()": "global_g", "f(a)": "v"}[call]
    assert isinstance(values[changed], Opaque), values
    assert values["other"] == 5


def test_private_names_functions_and_imports_are_not_config_keys() -> None:
    values = evaluated("import os\nfrom x import y\n_hidden = 1\ndef f():\n    pass\ng = lambda: 1\nh = len\nk = 2\n")
    assert values == {"k": 2}


def test_opaque_values_carry_what_blocked_them() -> None:
    values = evaluated(
        "from returnn.util.basic import get_login_username\nimport numpy as np\n"
        "model = '/tmp/%s/model' % get_login_username()\n"
        "train = {'class': 'HDFDataset', 'files': [np.load('x')], 'seq_ordering': 'random'}\n"
        "dims = [1, get_login_username(), 3]\nlength = len(dims)\n"
        "label = f'user {get_login_username()}'\nnum = np.pi * 2\n")
    assert values["model"] == Opaque(3, 9, "calls get_login_username() imported from returnn.util.basic")
    assert values["train"]["seq_ordering"] == "random", "an opaque part keeps the rest of a dict"
    assert values["train"]["files"][0].reason == "calls np.load() imported from numpy"
    assert values["length"] == 3, "a list's length is known even when an item is not"
    assert isinstance(values["label"], Opaque) and values["num"].reason == "np.pi imported from numpy"


def test_control_flow_on_opaque_values_makes_what_it_assigns_opaque() -> None:
    values = evaluated(
        "import os\nnetwork = {'a': 1}\nother = 1\nif os.path.exists('/x'):\n    network['b'] = 2\nelse:\n"
        "    kept = 3\nfor f in os.listdir('/'):\n    loop = f\nn = 0\nwhile os.getenv('X'):\n    n += 1\n"
        "def pick():\n    if os.path.isdir('/d'):\n        return 1\n    return 2\nchoice = pick()\n"
        "out = []\nfor i in range(3):\n    if os.path.isfile(str(i)):\n        break\n    out.append(i)\n")
    assert values["other"] == 1
    for value in (values["network"], values["kept"], values["loop"], values["n"], values["choice"],
                  values["out"]):
        assert isinstance(value, Opaque), value
    assert "if` on an opaque condition (line 4: calls os.path.exists()" in values["network"].reason


def test_both_branches_of_an_opaque_if_keep_what_they_agree_on() -> None:
    values = evaluated(
        "import os\nnet = {'h': {'n_out': 3}, 'o': {'from': 'h'}}\nx = {}\ny = x\n"
        "if os.environ.get('X'):\n    net['o']['dropout'] = 0.1\n    lr = 0.1\n    x['k'] = 1\n    only_a = 1\n"
        "else:\n    lr = 0.1\n    net['h']['n_out'] = 3\n    only_b = 2\n"
        "y['j'] = 2\n")
    assert values["net"]["h"] == {"n_out": 3}, "the same keys and values in both branches"
    assert isinstance(values["net"]["o"], Opaque), "a key added in one branch: which keys it has is unknown"
    assert values["lr"] == 0.1 and isinstance(values["x"], Opaque) and isinstance(values["y"], Opaque)
    assert isinstance(values["only_a"], Opaque) and isinstance(values["only_b"], Opaque)


@pytest.mark.parametrize("text", [
    "def add(n):\n    n['k'] = 1\nif os.getenv('X'):\n    add(net)\n",  # a config function may change anything
    "if os.getenv('X'):\n    net['k'] = 1 / 0\n",  # a branch that raises
    "def f():\n    if os.getenv('X'):\n        net['k'] = 1\n    return 0\nf()\n",  # inside a function
    "def f(d=[]):\n    return d\nif os.getenv('X'):\n    net['k'] = 1\n",  # a function holds its own list
])
def test_opaque_if_falls_back_to_making_what_it_changes_opaque(text: str) -> None:
    values = evaluated("import os\nnet = {'a': 1}\n" + text)
    assert isinstance(values["net"], Opaque)


def test_mutations_with_opaque_keys_make_the_variable_opaque_and_values_stay_in_place() -> None:
    values = evaluated(
        "import os\nkey = os.environ['K']\na = {'x': 1}\na[key] = 2\nb = {'x': 1}\nb.update(os.environ)\n"
        "c = {'x': 1}\nc['y'] = key\nd = []\nd.append(key)\nd.append(1)\ne = {}\ne.update(y=key, z=1)\n")
    assert isinstance(values["a"], Opaque) and isinstance(values["b"], Opaque)
    assert values["c"]["x"] == 1 and isinstance(values["c"]["y"], Opaque)
    assert values["d"][1] == 1 and isinstance(values["d"][0], Opaque)
    assert values["e"]["z"] == 1 and isinstance(values["e"]["y"], Opaque)


@pytest.mark.parametrize("statement, reason", [
    ("x = 1 / 0", "line 1 raises ZeroDivisionError: division by zero"),
    ("x = {}['k']", "line 1 raises KeyError: 'k'"),
    ("x = undefined_name + 1", "line 1 raises NameError: name 'undefined_name' is not defined"),
    ("x = [1][5]", "line 1 raises IndexError"),
    ("x = {'a': true}", "line 1 raises NameError: name 'true' is not defined (JSON's true is True in a Python config)"),
    ("x = int('abc')", "line 1 raises ValueError"),
    ("x = 'a' + 1", "line 1 raises TypeError"),
    ("def f():\n    return {}['k']\nx = f()", "line 2 raises KeyError"),
    ("x, y = 1, 2, 3", "line 1 raises ValueError"),
    ("raise ValueError('no')\nx = 1", None),
])
def test_python_errors_make_the_assigned_names_opaque(statement: str, reason: str | None) -> None:
    values = evaluated(statement + "\nafter = 5\n")
    assert values["after"] == 5
    if reason is None:
        assert values["x"] == 1
        return
    assert isinstance(values["x"], Opaque) and values["x"].reason.startswith(reason), values["x"]


NEVER_RUN = {
    "eval": "x = eval('1 + 1')",
    "exec": "x = exec('y = 1')",
    "compile": "x = compile('1', 'f', 'eval')",
    "open": "x = open('/etc/hostname').read()",
    "getattr": "x = getattr('a', 'upper')()",
    "setattr": "x = setattr(object, 'a', 1)",
    "__import__": "x = __import__('os').getcwd()",
    "globals": "x = globals()['__builtins__']",
    "vars": "x = vars()",
    "type": "x = type('C', (), {})",
    "dunder attribute": "x = ().__class__.__bases__[0].__subclasses__()",
    "dunder name": "x = __builtins__",
    "format attribute": "x = '{0.__class__}'.format(1)",
    "attribute of a value": "x = (1).real",
    "environment": "import os\nx = os.environ['HOME']",
    "getenv": "import os\nx = os.getenv('HOME')",
    "argv": "import sys\nx = sys.argv[1:]",
    "file system": "import os\nx = os.listdir('/')",
    "exists": "import os\nx = os.path.exists('/')",
    "config object": "x = config.get_of_type('a', int)",
    "class with a base": "class C(dict):\n    pass\nx = C()",
    "class decorator": "def deco(c):\n    return c\n@deco\nclass C:\n    pass\nx = C()",
    "with": "with open('/etc/hostname') as f:\n    x = f.read()",
    "star import": "from returnn.util.basic import *\nx = get_login_username()",
    "generator": "def g():\n    yield 1\nx = g()",
    "builtin attribute": "x = dict.fromkeys('ab')",
    "decorator": "def deco(f):\n    return f\n@deco\ndef g():\n    pass\nx = g",
}


@pytest.mark.parametrize("name", sorted(NEVER_RUN))
def test_forbidden_constructs_are_opaque_not_run(name: str) -> None:
    values = evaluated(NEVER_RUN[name] + "\nafter = 1\n")
    assert isinstance(values["x"], Opaque), values["x"]
    assert values["after"] == 1


def test_a_config_that_writes_files_or_runs_commands_does_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    config = tmp_path / "evil.config"
    config.write_text(
        f"#!rnn.py\nimport os, subprocess\nopen({str(marker)!r}, 'w').write('x')\n"
        f"os.system('touch {marker}')\nsubprocess.run(['touch', {str(marker)!r}])\n"
        f"__import__('os').system('touch {marker}')\n"
        f"().__class__.__base__.__subclasses__()\n"
        f"eval(\"__import__('os').system('touch {marker}')\")\n"
        f"network = {{'output': {{'class': 'copy'}}}}\n")
    doc = read_file(config)
    assert not marker.exists() and doc.values["network"] == {"output": {"class": "copy"}}


BUDGETS = {
    "steps": ("while True:\n    pass", "evaluation steps"),
    "loop": ("x = 0\nfor i in range(10**6):\n    x += i", "evaluation steps"),
    "string": ("x = 'a' * 10**8", "elements or characters"),
    "list": ("x = [0] * 10**8", "elements or characters"),
    "range": ("x = list(range(10**12))", "elements or characters"),
    "sum": ("x = sum(range(10**12))", "elements or characters"),
    "power": ("x = 2 ** 10 ** 9", "-bit integers"),
    "shift": ("x = 1 << 10 ** 9", "-bit integers"),
    "squaring": ("x = 3\nfor i in range(40):\n    x = x * x", "-bit integers"),
    "percent width": ("x = '%0999999999d' % 1", "elements or characters"),
    "percent star": ("x = '%*d' % (10**9, 1)", "elements or characters"),
    "f-string width": ("x = f'{1:>999999999}'", "elements or characters"),
    "format width": ("x = '{:>999999999}'.format(1)", "elements or characters"),
    "center": ("x = 'a'.center(10**9)", "elements or characters"),
    "replace": ("x = ('a' * 10**5).replace('', 'b' * 100)", "elements or characters"),
    "join": ("s = 'a' * 10**5\nx = ''.join([s] * 1000)", "elements or characters"),
    "doubling": ("x = [1]\nfor i in range(40):\n    x = x + x", "elements or characters"),
    "recursion": ("def f(n):\n    return f(n + 1)\nx = f(0)", "nested calls"),
    "comprehension": ("x = [i for i in range(10**5) for j in range(10**5)]", "evaluation steps"),
}


@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_each_budget_is_a_located_error(name: str) -> None:
    text, what = BUDGETS[name]
    with pytest.raises(NetcError, match=re.escape(what)) as error:
        evaluated("a = 1\n" + text + "\n", Budgets(steps=200_000))
    where = error.value.where
    assert where.file == FILE and where.line is not None and where.line >= 2
    assert "budget" in error.value.message and "--exec-config" in (error.value.hint or "")


def test_positions_of_dicts_built_by_code_point_at_their_display() -> None:
    result = evaluate(FILE, ast.parse(
        "def layer(n):\n    return {'class': 'linear',\n            'n_out': n}\n"
        "network = {}\nfor i in range(2):\n    network['l%d' % i] = layer(i + 1)\n"
        "network['o'] = dict(cls='softmax',\n                    n_out=3)\nnetwork.update({'u': {'a': 1}})\n"))
    positions = result.positions
    assert positions[("network",)] == (4, 1)
    assert positions[("network", "l1")] == (6, 13)
    assert positions[("network", "l1", "n_out")] == (3, 13)
    assert positions[("network", "o", "n_out")] == (8, 21)
    assert positions[("network", "u")] == (9, 17)


def test_self_containing_values_and_deep_nesting_stay_bounded() -> None:
    values = evaluated("a = []\na.append(a)\nb = []\nfor i in range(100):\n    b = [b]\n")
    assert isinstance(values["a"][0], Opaque)
    depth, value = 0, values["b"]
    while isinstance(value, list):
        value, depth = value[0], depth + 1
    assert isinstance(value, Opaque) and depth <= 65


def test_config_object_reads_the_values_assigned_so_far() -> None:
    values = evaluated(
        "import os\na = 3\nlrs = [0.1, 0.2]\nenv = os.environ['X']\nx = config.typed_value('a')\n"
        "y = config.int('missing', 7)\nz = config.has('a'), config.has('later'), config.has('env')\n"
        "w = config.value('lrs', None)\nv = config.typed_value('env')\nlater = 1\n")
    assert values["x"] == 3 and values["y"] == 7 and values["z"] == (True, False, True)
    assert values["w"] == "0.1,0.2" and values["v"].reason == "reads os.environ (the environment)"


def test_values_that_unknown_code_may_change_or_share_become_opaque() -> None:
    values = evaluated(
        "import os\nfrom tools import patch\nnet = {'a': {'n_out': 1}}\nalias = net\nlayer = net['a']\n"
        "patch(layer)\nother = {'b': 1}\n"  # an imported function may change what it is given
        "def put(d):\n    d['w'] = 1\nkeep = {'c': 1}\nbox = {}\nfor f in os.listdir('.'):\n    put(box)\n"
        "    pair = (keep, f)\n")  # a name bound in unknown code may share what it reads
    assert isinstance(values["net"], Opaque) and isinstance(values["alias"], Opaque)
    assert values["net"].reason.startswith("passed to code netc does not run (calls patch() imported from tools)")
    assert values["other"] == {"b": 1}
    assert isinstance(values["box"], Opaque) and isinstance(values["keep"], Opaque)


def test_a_dict_may_hold_a_function_as_a_value() -> None:
    """`pretrain = {"construction_algo": custom_construction_algo}` is valid Python: no error, the value opaque."""
    result = evaluate("c.py", ast.parse("def f(idx, net):\n    return net\npretrain = {'repetitions': 1, "
                                        "'construction_algo': f}\n"))
    assert result.notes == ()
    assert result.values["pretrain"]["repetitions"] == 1
    assert "a function" in result.values["pretrain"]["construction_algo"].reason
