package codecache

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// maxLinkTarget bounds the text of a symlink entry.
const maxLinkTarget = 4096

// maxLinkHops bounds how many symlinks one path may pass through.
const maxLinkHops = 40

// linkTarget returns the target of the symlink entry f, which must be
// relative.
func linkTarget(f *zip.File) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", badZip(f.Name + ": " + err.Error())
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxLinkTarget+1))
	if err != nil {
		return "", badZip(f.Name + ": " + err.Error())
	}
	target := string(b)
	if target == "" || len(target) > maxLinkTarget || strings.ContainsRune(target, 0) || filepath.IsAbs(target) {
		return "", badZip(f.Name + ": symlink leads out of the archive")
	}
	return target, nil
}

// symlink makes the symlink entry f under root.
func symlink(root string, f *zip.File) error {
	name, _ := entryName(f.Name)
	target, err := linkTarget(f)
	if err != nil {
		return err
	}
	if err := mkdirs(root, filepath.Dir(name)); err != nil {
		return err
	}
	return fsError(os.Symlink(target, filepath.Join(root, name)))
}

// resolvesInside reports whether the path rel under root, followed through
// the symlinks in the tree, stays inside root at every step. Components that
// do not exist are taken lexically.
func resolvesInside(root, rel string) bool {
	todo := strings.Split(rel, "/")
	var cur []string // resolved components below root
	for hops := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return false
			}
			cur = cur[:len(cur)-1]
			continue
		}
		p := filepath.Join(root, filepath.Join(cur...), c)
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			cur = append(cur, c)
			continue
		}
		if hops++; hops > maxLinkHops {
			return false
		}
		target, err := os.Readlink(p)
		if err != nil || filepath.IsAbs(target) {
			return false
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return true
}

// readOnly gives every directory under and including root its mode from
// dirs (0755 when the archive did not list it) minus the write bits. Files
// already have theirs; symlinks have none.
func readOnly(root string, dirs map[string]fs.FileMode) error {
	var all []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			all = append(all, path)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("codecache: %w", err)
	}
	// Deepest first, so that a directory's own mode never stops the walk or
	// the chmod of what is inside it.
	for _, path := range slices.Backward(all) {
		rel, _ := filepath.Rel(root, path)
		mode, ok := dirs[rel]
		if !ok {
			mode = 0o755
		}
		if err := os.Chmod(path, mode&^0o222); err != nil {
			return fmt.Errorf("codecache: %w", err)
		}
	}
	return nil
}

// RemoveAll removes path and everything under it, first giving back the
// write permission that unpacked trees lack. A missing path is not an error.
// Tests use it to clean up a Cache's Dir.
func RemoveAll(path string) error {
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err == nil && d.IsDir() {
			err = os.Chmod(p, 0o700)
		}
		return err
	})
	if err != nil {
		return err
	}
	return os.RemoveAll(path)
}
