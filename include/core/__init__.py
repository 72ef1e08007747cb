"""The spine every production uses: errors, paths, atomic writes, manifests, steps, backends."""
