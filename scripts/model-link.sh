#!/usr/bin/env bash
# Promote a model directory to live, or roll back to the one before, by repointing the symlink
# the service serves (NEWSCLF_MODEL_DIR) atomically; a running service hot-reloads it within
# NEWSCLF_MODEL_WATCH_S (or at once on SIGHUP). The previous target is kept in LINK.previous.
#
#   bash scripts/model-link.sh promote artifacts/model-2026-12-06 [LINK]   # LINK: artifacts/model
#   bash scripts/model-link.sh rollback [LINK]
#   bash scripts/model-link.sh show [LINK]
set -euo pipefail

die() { echo "error: $*" >&2; exit 2; }

repoint() {  # repoint LINK at TARGET in one rename (never a moment without a model)
    local link=$1 target=$2
    ln -sfn "$target" "$link.new.$$"
    mv -T "$link.new.$$" "$link"
}

cmd=${1:-}
case "$cmd" in
    promote)
        target=${2:-} link=${3:-artifacts/model}
        [ -n "$target" ] || die "usage: model-link.sh promote MODEL_DIR [LINK]"
        [ -f "$target/manifest.json" ] || die "$target has no manifest.json (not an exported model directory)"
        target=$(cd "$target" && pwd -P)
        if [ -e "$link" ] && [ ! -L "$link" ]; then
            die "$link is a directory, not a symlink: move it (mv $link $link-v1) and promote that"
        fi
        if [ -L "$link" ]; then
            current=$(readlink "$link")
            [ "$current" = "$target" ] && { echo "$link already serves $target"; exit 0; }
            repoint "$link.previous" "$current"
        fi
        repoint "$link" "$target"
        echo "$link -> $target${current:+ (previous: $current)}"
        ;;
    rollback)
        link=${2:-artifacts/model}
        [ -L "$link.previous" ] || die "no $link.previous to roll back to"
        previous=$(readlink "$link.previous") current=$(readlink "$link")
        [ -f "$previous/manifest.json" ] || die "$previous (the previous model) is gone"
        repoint "$link" "$previous"
        repoint "$link.previous" "$current"
        echo "$link -> $previous (rolled back from $current)"
        ;;
    show)
        link=${2:-artifacts/model}
        echo "$link -> $(readlink "$link" 2>/dev/null || echo '(not a symlink)')"
        [ -L "$link.previous" ] && echo "$link.previous -> $(readlink "$link.previous")"
        exit 0
        ;;
    *) die "usage: model-link.sh promote MODEL_DIR [LINK] | rollback [LINK] | show [LINK]" ;;
esac
