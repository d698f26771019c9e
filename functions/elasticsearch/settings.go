package elasticsearch

import (
	"sort"
	"strings"
)

// Settings are an index's settings in flat form ("index.number_of_shards"),
// values as the server returned them (strings, lists, or for some servers
// numbers and booleans).
type Settings map[string]any

// droppedSetting reports whether a setting must not go into the archive,
// and why: the cluster sets it itself (identity, creation, version), it
// names things of the source cluster (nodes, resize sources, followed
// indices), or it describes a state that cannot be created (searchable
// snapshots, frozen).
func droppedSetting(key string) (bool, string) {
	switch key {
	case "index.uuid", "index.creation_date", "index.creation_date_string", "index.provided_name",
		"index.history.uuid", "index.verified_before_close", "index.frozen", "index.search.throttled",
		"index.xpack.ccr.following_index", "index.shard_limit.group":
		return true, "set by the cluster"
	}
	for _, p := range []string{"index.version.", "index.resize.", "index.shrink.source.", "index.split.source.",
		"index.clone.source.", "index.store.snapshot.", "index.downsample.", "index.routing.allocation.initial_recovery."} {
		if strings.HasPrefix(key, p) {
			return true, "set by the cluster"
		}
	}
	for _, p := range []string{"index.routing.allocation.include.", "index.routing.allocation.exclude.", "index.routing.allocation.require."} {
		if strings.HasPrefix(key, p) && !strings.HasSuffix(key, "._tier_preference") {
			return true, "bound to the source cluster's nodes"
		}
	}
	return false, ""
}

// filterSettings returns the settings an index can be created with, and the
// names of those it dropped, sorted. Keys without the "index." prefix (some
// servers answer so) get it.
func filterSettings(in Settings) (Settings, []string) {
	out := Settings{}
	var dropped []string
	for k, v := range in {
		if !strings.HasPrefix(k, "index.") {
			k = "index." + k
		}
		if drop, _ := droppedSetting(k); drop {
			dropped = append(dropped, k)
			continue
		}
		out[k] = v
	}
	sort.Strings(dropped)
	return out, dropped
}

// flatten turns nested settings ({"index":{"a":{"b":"1"}}}) into flat ones;
// already flat input is returned as it is.
func flatten(nested map[string]any) Settings {
	out := Settings{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok {
			for k, vv := range m {
				key := k
				if prefix != "" {
					key = prefix + "." + k
				}
				walk(key, vv)
			}
			return
		}
		out[prefix] = v
	}
	walk("", nested)
	return out
}

// loadTimeSettings splits restored settings into those to create the index
// with and those to apply once the documents are in: refresh_interval is
// -1 during the load, and write blocks would refuse the load.
func loadTimeSettings(s Settings) (create, after Settings) {
	create, after = Settings{}, Settings{}
	for k, v := range s {
		switch {
		case k == "index.refresh_interval":
			after[k] = v
		case strings.HasPrefix(k, "index.blocks."):
			after[k] = v
		default:
			create[k] = v
		}
	}
	create["index.refresh_interval"] = "-1"
	if _, ok := after["index.refresh_interval"]; !ok {
		// Back to the cluster's default.
		after["index.refresh_interval"] = nil
	}
	return create, after
}
