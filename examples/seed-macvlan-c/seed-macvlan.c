// The seed macvlan lab (see examples/seed-macvlan/src/lib.rs), in C, on the
// bindings `wit-bindgen c` generates from wit/ (build/gen/lab.h):
//
//   PREFIX-test   test_server 10.20.30.10/24, default via 10.20.30.1
//       | veth
//   PREFIX-lan    the upstream switch (bridge br0) and the subnet's router:
//                 172.16.10.1/24 on br0, 10.20.30.1/24 towards test_server
//       | veth (PREFIX-net1's eth0 <-> port "net1" of br0)
//   PREFIX-net1   the Docker host: eth0 172.16.10.2/24, default via .1
//       +-- macvlan1 (child of eth0) in PREFIX-ns1: 172.16.10.5/24
//       +-- macvlan2 (child of eth0) in PREFIX-ns2: 172.16.10.6/24
//
// Arguments: `up PREFIX [vepa|bridge]` builds and checks it; `down PREFIX`
// removes it. Built by build.sh: see README.md.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab.h"

typedef netwasm_lab_namespace_own_netns_t ns_t;
typedef netwasm_lab_link_own_link_t link_t;
typedef netwasm_lab_link_macvlan_mode_t macvlan_mode_t;

#define USAGE "usage: up PREFIX [vepa|bridge] | down PREFIX"

// Why the run failed: set by fail(), returned by run as its error.
static char failure[1024];

// Records a netwasm error as the run's failure, frees it, returns false.
static bool fail(netwasm_lab_types_error_t *e) {
    static const char *kinds[] = {
        "not found", "already exists", "invalid argument", "busy",
        "permission denied", "denied", "limit reached",
    };
    if (e->tag == NETWASM_LAB_TYPES_ERROR_KERNEL) {
        lab_string_t *m = &e->val.kernel.message;
        snprintf(failure, sizeof failure, "kernel: %.*s", (int)m->len, (const char *)m->ptr);
    } else {
        // Every other case carries one string, at the same place.
        lab_string_t *m = &e->val.not_found;
        snprintf(failure, sizeof failure, "%s: %.*s", kinds[e->tag], (int)m->len, (const char *)m->ptr);
    }
    netwasm_lab_types_error_free(e);
    return false;
}

// Calls a fallible binding, `fn(args..., &err)`, and returns false from the
// calling function with the failure recorded when it fails.
#define TRY(fn, ...)                                                                               \
    do {                                                                                           \
        netwasm_lab_types_error_t err_;                                                            \
        if (!fn(__VA_ARGS__, &err_)) return fail(&err_);                                           \
    } while (0)

static lab_string_t str(const char *s) {
    lab_string_t out;
    lab_string_set(&out, s);
    return out;
}

static netwasm_lab_namespace_borrow_netns_t ns_b(ns_t ns) {
    return netwasm_lab_namespace_borrow_netns(ns);
}

static netwasm_lab_link_borrow_link_t link_b(link_t l) {
    return netwasm_lab_link_borrow_link(l);
}

// Creates PREFIX-SUFFIX with its loopback up.
static bool new_ns(const char *prefix, const char *suffix, ns_t *out) {
    char name[128];
    snprintf(name, sizeof name, "%s-%s", prefix, suffix);
    lab_string_t n = str(name), lo_name = str("lo");
    link_t lo;
    TRY(netwasm_lab_namespace_create, &n, out);
    TRY(netwasm_lab_link_get, ns_b(*out), &lo_name, &lo);
    TRY(netwasm_lab_link_method_link_set_up, link_b(lo));
    netwasm_lab_link_link_drop_own(lo);
    return true;
}

// Adds `cidr` to the link and sets it up.
static bool up_with(link_t l, const char *cidr) {
    lab_string_t c = str(cidr);
    TRY(netwasm_lab_addr_add, link_b(l), &c);
    TRY(netwasm_lab_link_method_link_set_up, link_b(l));
    return true;
}

static bool default_route(ns_t ns, const char *gateway) {
    netwasm_lab_route_route_spec_t spec = {
        .destination = str("default"),
        .gateway = {.is_some = true, .val = str(gateway)},
        .metric = {.is_some = false},
    };
    TRY(netwasm_lab_route_add, ns_b(ns), &spec, NULL);
    return true;
}

static bool expect(ns_t from, const char *to, bool reachable, const char *label) {
    lab_string_t t = str(to), l = str(label);
    TRY(netwasm_lab_verify_expect, ns_b(from), &t, reachable, &l);
    return true;
}

static bool check(void) {
    netwasm_lab_verify_list_outcome_t outcomes;
    TRY(netwasm_lab_verify_check, &outcomes);
    netwasm_lab_verify_list_outcome_free(&outcomes);
    return true;
}

static const char *mode_name(macvlan_mode_t mode) {
    static const char *names[] = {"private", "vepa", "bridge", "passthru", "source"};
    return mode < sizeof names / sizeof *names ? names[mode] : "?";
}

static bool up(const char *prefix, macvlan_mode_t mode) {
    // The "physical" network: a switch with the subnet's gateway on it.
    ns_t lan, test, net1, children[2];
    link_t sw, uplink, server, eth0, port;
    lab_string_t name;
    netwasm_lab_link_tuple2_own_link_own_link_t pair;
    if (!new_ns(prefix, "lan", &lan)) return false;
    TRY(netwasm_lab_namespace_method_netns_set_forwarding, ns_b(lan), true);
    name = str("br0");
    TRY(netwasm_lab_link_add_bridge, ns_b(lan), &name, &sw);
    if (!up_with(sw, "172.16.10.1/24")) return false;

    // The chapter's test_server, on another subnet behind the router.
    if (!new_ns(prefix, "test", &test)) return false;
    lab_string_t a = str("test"), b = str("eth0");
    TRY(netwasm_lab_link_add_veth, ns_b(lan), &a, ns_b(test), &b, &pair);
    uplink = pair.f0;
    server = pair.f1;
    if (!up_with(uplink, "10.20.30.1/24") || !up_with(server, "10.20.30.10/24")) return false;
    if (!default_route(test, "10.20.30.1")) return false;

    // The Docker host, cabled to the switch.
    if (!new_ns(prefix, "net1", &net1)) return false;
    a = str("eth0");
    b = str("net1");
    TRY(netwasm_lab_link_add_veth, ns_b(net1), &a, ns_b(lan), &b, &pair);
    eth0 = pair.f0;
    port = pair.f1;
    TRY(netwasm_lab_link_method_link_set_master, link_b(port), link_b(sw));
    TRY(netwasm_lab_link_method_link_set_up, link_b(port));
    if (!up_with(eth0, "172.16.10.2/24")) return false;
    if (!default_route(net1, "172.16.10.1")) return false;

    // Two macvlan children of eth0, each created directly in its namespace.
    static const char *ips[] = {"172.16.10.5/24", "172.16.10.6/24"};
    for (int i = 0; i < 2; i++) {
        char suffix[8], child_name[16];
        snprintf(suffix, sizeof suffix, "ns%d", i + 1);
        snprintf(child_name, sizeof child_name, "macvlan%d", i + 1);
        if (!new_ns(prefix, suffix, &children[i])) return false;
        netwasm_lab_link_macvlan_config_t config = {
            .name = str(child_name),
            .mode = {.is_some = true, .val = mode},
            .mac = {.is_some = false},
            .mtu = {.is_some = false},
        };
        netwasm_lab_link_borrow_netns_t target = ns_b(children[i]);
        link_t child;
        TRY(netwasm_lab_link_add_macvlan, link_b(eth0), &config, &target, &child);
        if (!up_with(child, ips[i])) return false;
        netwasm_lab_link_link_info_t info;
        lab_string_t ns_name;
        TRY(netwasm_lab_link_method_link_info, link_b(child), &info);
        netwasm_lab_namespace_method_netns_name(ns_b(children[i]), &ns_name);
        printf("%.*s: %s %s mode %s on %.*s in %.*s\n", (int)ns_name.len, (const char *)ns_name.ptr, child_name,
               ips[i], mode_name(info.macvlan_mode.is_some ? info.macvlan_mode.val : mode),
               info.parent_name.is_some ? (int)info.parent_name.val.len : 1,
               info.parent_name.is_some ? (const char *)info.parent_name.val.ptr : "?",
               info.parent_namespace.is_some ? (int)info.parent_namespace.val.len : 1,
               info.parent_namespace.is_some ? (const char *)info.parent_namespace.val.ptr : "?");
        fflush(stdout);
        lab_string_free(&ns_name);
        netwasm_lab_link_link_info_free(&info);
        netwasm_lab_link_link_drop_own(child);
    }

    // Without default routes the children answer their own subnet only.
    if (!expect(test, "172.16.10.2", true, "test_server to the host") ||
        !expect(test, "172.16.10.5", false, "no default route in ns1 yet") ||
        !expect(test, "172.16.10.6", false, "no default route in ns2 yet") || !check())
        return false;

    for (int i = 0; i < 2; i++)
        if (!default_route(children[i], "172.16.10.1")) return false;
    ns_t ns1 = children[0], ns2 = children[1];
    if (!expect(test, "172.16.10.5", true, "default route in ns1") ||
        !expect(test, "172.16.10.6", true, "default route in ns2") ||
        !expect(lan, "172.16.10.2", true, "gateway to the host") ||
        !expect(lan, "172.16.10.5", true, "gateway to macvlan1") ||
        !expect(lan, "172.16.10.6", true, "gateway to macvlan2"))
        return false;
    bool bridge = mode == NETWASM_LAB_LINK_MACVLAN_MODE_BRIDGE;
    if (!expect(ns1, "172.16.10.6", bridge, bridge ? "bridge mode: siblings talk" : "vepa: siblings cannot talk") ||
        !expect(ns1, "172.16.10.2", false, "a child never reaches its parent's address") ||
        !expect(ns2, "172.16.10.2", false, "a child never reaches its parent's address"))
        return false;

    // Handles are not the objects: dropping them leaves the lab up.
    link_t links[] = {sw, uplink, server, eth0, port};
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) netwasm_lab_link_link_drop_own(links[i]);
    ns_t nss[] = {lan, test, net1, ns1, ns2};
    for (size_t i = 0; i < sizeof nss / sizeof *nss; i++) netwasm_lab_namespace_netns_drop_own(nss[i]);
    return true;
}

static bool down(const char *prefix) {
    // Children first; a namespace already gone is fine.
    static const char *suffixes[] = {"ns1", "ns2", "net1", "test", "lan"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s-%s", prefix, suffixes[i]);
        lab_string_t n = str(name);
        ns_t ns;
        netwasm_lab_types_error_t err;
        if (!netwasm_lab_namespace_open(&n, &ns, &err)) {
            if (err.tag == NETWASM_LAB_TYPES_ERROR_NOT_FOUND) {
                netwasm_lab_types_error_free(&err);
                continue;
            }
            return fail(&err);
        }
        TRY(netwasm_lab_namespace_delete, ns);
    }
    return true;
}

static bool dispatch(int argc, char **argv) {
    if (argc >= 2 && argc <= 3 && strcmp(argv[0], "up") == 0) {
        const char *mode = argc == 3 ? argv[2] : "vepa";
        if (strcmp(mode, "vepa") == 0) return up(argv[1], NETWASM_LAB_LINK_MACVLAN_MODE_VEPA);
        if (strcmp(mode, "bridge") == 0) return up(argv[1], NETWASM_LAB_LINK_MACVLAN_MODE_BRIDGE);
    } else if (argc == 2 && strcmp(argv[0], "down") == 0) {
        return down(argv[1]);
    }
    snprintf(failure, sizeof failure, "%s", USAGE);
    return false;
}

// The world's export. The arguments are ours to free; an error string we
// return is freed by the bindings after the host has read it.
bool exports_lab_run(lab_list_string_t *args, lab_string_t *err) {
    int argc = (int)args->len;
    char **argv = calloc(argc + 1, sizeof *argv);
    for (int i = 0; i < argc; i++) argv[i] = strndup((const char *)args->ptr[i].ptr, args->ptr[i].len);
    lab_list_string_free(args);

    bool ok = dispatch(argc, argv);
    fflush(stdout);

    for (int i = 0; i < argc; i++) free(argv[i]);
    free(argv);
    if (!ok) lab_string_dup(err, failure);
    return ok;
}
