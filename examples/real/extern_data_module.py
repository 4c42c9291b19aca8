# A config named .py (RETURNN reads it as Python without "#!"), with extern_data and a network built by a
# function taking keyword arguments.
behavior_version = 12
extern_data = {"data": {"dim": 20}, "classes": {"dim": 6, "sparse": True}}


def ff_net(num_layers, dim=32, activation="relu", **output_opts):
    net = {}
    src = "data"
    for i in range(num_layers):
        name = f"ff{i}"
        net[name] = {"class": "linear", "activation": activation, "n_out": dim, "from": src}
        src = name
    net["output"] = dict({"class": "softmax", "from": src}, **output_opts)
    return net


network = ff_net(2, dim=24, loss="ce")
