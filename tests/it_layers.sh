# The rules of the layered house (docs/ARCHITECTURE.md "Floors"), checked on
# the source tree.  The build already refuses an upward #include (a floor's
# folder is its only include directory) and an upward call (a floor links
# only the floors below); this test states every rule in one place, with a
# message naming the file and line that breaks it, and checks the rules the
# compiler cannot see:
#   1. an include names a header of the same floor or a lower one;
#   2. no cycle between modules (an include graph that tsort can order);
#   3. session/ and secagg/ touch no socket, clock, file or sleep, and no
#      environment: a model plugin arrives opened (fl_model_plugin_open,
#      dlopen and getenv are the driver's), the sessions only make models;
#   4. the coordinator's session and the member's session never include
#      each other;
#   5. no library string names a command-line flag (only the io floor's
#      option tables and argument parser speak in flags);
#   6. every wire key is spelled once (FL_K_* in proto/fl_wire.h, used by the
#      schema table): no reader or writer passes a key as a string literal.
set -euo pipefail
SRC="${FL_SOURCE_DIR:-.}"
cd "$SRC/libfl"
FLOORS=(core data secagg kernels learn proto session io)
bad=0
complain () { echo "FAIL: $*" >&2; bad=1; }

declare -A floor_of level_of
for i in "${!FLOORS[@]}"; do
    f=${FLOORS[$i]}
    level_of[$f]=$i
    for h in "$f"/*.h; do
        [ -e "$h" ] && floor_of[$(basename "$h")]=$f
    done
done
[ "${#floor_of[@]}" -gt 20 ] || { echo "FAIL: found only ${#floor_of[@]} headers under libfl/" >&2; exit 1; }

# 1. includes point down (models/*.c belong to the learn floor).
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
# (fl_x_priv.h is part of the module fl_x)
while IFS= read -r hit; do
    file=${hit%%:*}; rest=${hit#*:}; lineno=${rest%%:*}; text=${rest#*:}
    [[ $text =~ \#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]] || continue
    hdr=${BASH_REMATCH[1]}
    case $file in ../models/*) floor=learn ;; *) floor=${file%%/*} ;; esac
    [ "$hdr" = fl.h ] && { complain "$file:$lineno: includes the umbrella header fl.h"; continue; }
    target=${floor_of[$hdr]:-}
    [ -n "$target" ] || continue
    if [ "${level_of[$target]}" -gt "${level_of[$floor]}" ]; then
        complain "$file:$lineno: $floor floor includes $hdr from the higher $target floor"
    fi
    from=${file##*/}; from=${from%.*}; from=${from%_priv}
    to=${hdr%.h}; to=${to%_priv}
    [ "$from" != "$to" ] && echo "$from $to" >>"$edges"
done < <(grep -Hn '#[[:space:]]*include[[:space:]]*"' $(printf '%s/*.[ch] ' "${FLOORS[@]}") ../models/*.c 2>/dev/null || true)

# 2. no cycle between modules.
if ! tsort "$edges" >/dev/null 2>"$edges.err"; then
    complain "include cycle between modules: $(grep -v 'contains a loop' "$edges.err" | sed 's/^tsort: //' | head -8 | tr '\n' ' ')"
fi
rm -f "$edges.err"

# 3. the sans-I/O floors.
io_calls='\b(zsock_[a-z_]+|zmq_[a-z_]+|zpoller_[a-z_]+|zloop_[a-z_]+|zclock_[a-z_]+|zfile_[a-z_]+|zdir_[a-z_]+|fopen|fdopen|open|creat|unlink|rename|mkdir|opendir|sleep|usleep|nanosleep|time|clock_gettime|gettimeofday|fl_atomic_[a-z_]+|fl_transport_[a-z_]+|fl_modelfile_[a-z_]+|fl_model_load_plugin|fl_model_plugin_open|dlopen|getenv)[[:space:]]*\('
for f in session secagg; do
    if hits=$(grep -nE "$io_calls" "$f"/*.[ch] | grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)'); then
        while IFS= read -r h; do complain "$h: I/O, clock, sleep, environment or plugin loading in the sans-I/O $f floor"; done <<<"$hits"
    fi
done

# 4. the two sessions never include each other.
for file in session/*.[ch]; do
    case $(basename "$file") in
        fl_client*) pattern='"fl_(round|peers|cohort|strategy|privacy)[a-z_]*\.h"' ;;
        *)          pattern='"fl_client[a-z_]*\.h"' ;;
    esac
    if hits=$(grep -nE "#[[:space:]]*include[[:space:]]*$pattern" "$file"); then
        complain "$file: the coordinator's and the member's sessions include each other: $hits"
    fi
done

# 5. no command-line flag in a library string (outside the io floor's CLI layer).
for file in */*.[ch]; do
    case $file in io/fl_args.*|io/fl_options.*) continue ;; esac
    if hits=$(grep -nE '"([^"\\]|\\.)*[[:space:]("]--[a-z][a-z-]+' "$file" \
              | grep -vE '^[0-9]+:[[:space:]]*(/?\*|//)'); then
        while IFS= read -r h; do complain "$file:$h: a library string names a command-line flag"; done <<<"$hits"
    fi
done

# 6. wire keys by name, never by string literal (the codec's own table aside).
for file in */*.[ch]; do
    [ "$file" = proto/fl_wire.c ] && continue
    if hits=$(grep -nE 'fl_wire_[a-z0-9_]+[[:space:]]*\([^,;]+,[[:space:]]*"[a-z_0-9]+"' "$file"); then
        while IFS= read -r h; do complain "$file:$h: a wire key spelled as a string (use its FL_K_* name)"; done <<<"$hits"
    fi
done

[ $bad = 0 ] || exit 1
echo "layers: ${#floor_of[@]} headers on ${#FLOORS[@]} floors; includes point down, no cycle, sans-I/O floors clean, sessions apart, no flags in library strings, wire keys by name"
