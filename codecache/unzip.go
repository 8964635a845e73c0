package codecache

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/lambada-dev/lambada"
	"golang.org/x/sys/unix"
)

// badZip is AWS's error for an archive it cannot unpack; detail goes only
// into the error's text, for logs.
func badZip(detail string) error {
	return fmt.Errorf("codecache: %s: %w", detail,
		lambada.Errorf(lambada.EINVALID, "Could not unzip uploaded file. Please check your file, then try to upload again."))
}

func tooLarge() error {
	return lambada.Errorf(lambada.EINVALID, "Unzipped size must be smaller than %d bytes", lambada.MaxUnzippedSize)
}

// checkArchive opens data as a zip archive and checks what its directory
// shows, without unpacking anything: every name stays inside the tree, every
// entry is a file, a directory or a symlink with a relative target, and the
// unpacked size is at most lambada.MaxUnzippedSize. Problems are EINVALID
// errors with AWS's messages.
func checkArchive(data []byte) (*zip.Reader, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, badZip(err.Error())
	}
	var total uint64
	for _, f := range zr.File {
		if f.UncompressedSize64 > lambada.MaxUnzippedSize {
			return nil, tooLarge()
		}
		if total += f.UncompressedSize64; total > lambada.MaxUnzippedSize {
			return nil, tooLarge()
		}
	}
	for _, f := range zr.File {
		if _, err := entryName(f.Name); err != nil {
			return nil, err
		}
		switch mode := f.Mode(); {
		case mode.IsRegular(), mode.IsDir():
		case mode&fs.ModeSymlink != 0:
			if _, err := linkTarget(f); err != nil {
				return nil, err
			}
		default:
			return nil, badZip(fmt.Sprintf("%s: unsupported file type %s", f.Name, mode.Type()))
		}
	}
	return zr, nil
}

// unzip unpacks data into the empty directory dir and makes the tree
// read-only. Problems of the archive itself are EINVALID errors: those
// checkArchive finds, symlinks that lead out of the tree through other
// symlinks, entries that collide and corrupt data.
//
// Regular files and directories are made first and symlinks last, through
// directories that are checked not to be symlinks, so that nothing is ever
// written through a symlink; every symlink is then checked to resolve, via
// the tree's other symlinks, to a place inside the tree.
func unzip(ctx context.Context, dir string, data []byte) error {
	return unzipAll(ctx, dir, [][]byte{data})
}

// unzipAll is unzip of several archives into one tree, in order: an entry
// of a later one replaces an earlier one's of the same name (as layers are
// merged at /opt).
func unzipAll(ctx context.Context, dir string, archives [][]byte) error {
	lists := make([][]*zip.File, 0, len(archives))
	for _, data := range archives {
		zr, err := checkArchive(data)
		if err != nil {
			return err
		}
		lists = append(lists, zr.File)
	}
	entries, err := overlay(lists)
	if err != nil {
		return err
	}

	dirs := make(map[string]fs.FileMode) // directories the archive lists, with their modes
	made := map[string]bool{}            // directories made so far
	files := map[string]*zip.File{}      // regular files by name: the last entry of a name wins
	var links []*zip.File
	for _, f := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		name, err := entryName(f.Name)
		if err != nil {
			return err
		}
		mode := f.Mode()
		switch {
		case name == ".":
		case mode&fs.ModeSymlink != 0:
			links = append(links, f)
		case mode.IsDir():
			if err := mkdirsOnce(dir, name, made); err != nil {
				return err
			}
			dirs[name] = perm(f, 0o755)
		case mode.IsRegular():
			if err := mkdirsOnce(dir, filepath.Dir(name), made); err != nil {
				return err
			}
			files[name] = f
		}
	}
	if err := writeFiles(ctx, dir, files); err != nil {
		return err
	}
	for _, f := range links {
		if err := symlink(dir, f); err != nil {
			return err
		}
	}
	for _, f := range links {
		name, _ := entryName(f.Name)
		if !resolvesInside(dir, name) {
			return badZip(f.Name + ": symlink leads out of the archive or loops")
		}
	}
	if err := readOnly(dir, dirs); err != nil {
		return err
	}
	return syncTree(dir)
}

// overlay merges the entries of several archives, in order, as layers are
// merged at /opt: an entry of a later archive replaces whatever earlier ones
// had at its name, of any kind. A file or link over a directory replaces
// the directory and everything under it; a path under an earlier file or
// link makes a directory of it. Within one archive the last entry of a name
// wins, as in unzip, and kinds that collide are the archive's fault.
func overlay(archives [][]*zip.File) ([]*zip.File, error) {
	if len(archives) == 1 {
		return archives[0], nil
	}
	type item struct {
		f   *zip.File
		dir bool
	}
	merged := map[string]item{}
	for _, files := range archives {
		layer := make(map[string]item, len(files))
		for _, f := range files {
			name, err := entryName(f.Name)
			if err != nil {
				return nil, err
			}
			if name != "." {
				layer[name] = item{f, f.Mode().IsDir()}
			}
		}
		// The directories earlier archives made, listed or implied.
		dirs := map[string]bool{}
		for name, it := range merged {
			if it.dir {
				dirs[name] = true
			}
			for p := path.Dir(name); p != "."; p = path.Dir(p) {
				dirs[p] = true
			}
		}
		for name, it := range layer {
			for p := path.Dir(name); p != "."; p = path.Dir(p) {
				if old, ok := merged[p]; ok && !old.dir {
					delete(merged, p)
				}
			}
			if !it.dir && dirs[name] {
				delete(merged, name)
				for k := range merged {
					if strings.HasPrefix(k, name+"/") {
						delete(merged, k)
					}
				}
			}
		}
		maps.Copy(merged, layer)
	}
	names := slices.Sorted(maps.Keys(merged))
	out := make([]*zip.File, len(names))
	for i, n := range names {
		out[i] = merged[n].f
	}
	return out, nil
}

// syncTree makes everything written under dir durable with one syncfs of
// its file system, so that the tree is complete after a crash once it is
// renamed into place: one fsync per file cost up to 250 µs each on this
// machine. (Creating each file costs more: 270-800 µs here.)
func syncTree(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fsError(err)
	}
	defer d.Close()
	return fsError(unix.Syncfs(int(d.Fd())))
}

// entryName returns the cleaned, slash-separated path of an entry, or an
// error when it is absolute or climbs out of the tree.
func entryName(name string) (string, error) {
	if name == "" || strings.ContainsRune(name, 0) || !filepath.IsLocal(name) {
		return "", badZip(fmt.Sprintf("%q: path outside the archive", name))
	}
	return filepath.Clean(name), nil
}

// perm returns the entry's unix permission bits, or def when the archive was
// not made on unix (or recorded no mode). Set-id and sticky bits are dropped.
func perm(f *zip.File, def fs.FileMode) fs.FileMode {
	const creatorUnix, creatorMacOSX = 3, 19
	switch f.CreatorVersion >> 8 {
	case creatorUnix, creatorMacOSX:
		if f.ExternalAttrs>>16 != 0 {
			return f.Mode().Perm()
		}
	}
	return def
}

// unpackWorkers is how many files are written at once: creating a file
// takes hundreds of µs on a slow disk (270-1100 µs here, 14 µs on tmpfs),
// mostly waiting, and creations overlap (16 at once: a quarter of the time
// per file).
const unpackWorkers = 16

// writeFiles writes the regular files (by name under dir) unpackWorkers at
// a time, and returns the first error.
func writeFiles(ctx context.Context, dir string, files map[string]*zip.File) error {
	work := make(chan string)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	failed := func() bool { mu.Lock(); defer mu.Unlock(); return first != nil }
	for range unpackWorkers {
		wg.Go(func() {
			for name := range work {
				f := files[name]
				if err := writeFile(f, filepath.Join(dir, name), perm(f, 0o644)); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
				}
			}
		})
	}
	for name := range files {
		if ctx.Err() != nil || failed() {
			break
		}
		work <- name
	}
	close(work)
	wg.Wait()
	return cmp.Or(first, ctx.Err())
}

// mkdirsOnce is mkdirs, once per directory: made holds those made.
func mkdirsOnce(root, rel string, made map[string]bool) error {
	if made[rel] {
		return nil
	}
	if err := mkdirs(root, rel); err != nil {
		return err
	}
	made[rel] = true
	return nil
}

// mkdirs makes the directories of rel under root, refusing to pass through a
// symlink or a file.
func mkdirs(root, rel string) error {
	if rel == "." {
		return nil
	}
	p := root
	for c := range strings.SplitSeq(rel, "/") {
		p = filepath.Join(p, c)
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(p, 0o700); err != nil {
				return fsError(err)
			}
		case err != nil:
			return fsError(err)
		case !fi.IsDir():
			return badZip(rel + ": a directory is also a file or symlink")
		}
	}
	return nil
}

// writeFile writes the entry f to path with the permissions perm minus
// write. The tree is synced once, when it is complete (syncTree).
func writeFile(f *zip.File, path string, perm fs.FileMode) error {
	rc, err := f.Open()
	if err != nil {
		return badZip(f.Name + ": " + err.Error())
	}
	defer rc.Close()
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fsError(err)
	}
	defer out.Close()
	r := &readErr{r: rc}
	if _, err := io.Copy(out, r); err != nil {
		if r.err != nil {
			return badZip(f.Name + ": " + r.err.Error())
		}
		return fsError(err)
	}
	if err := out.Chmod(perm &^ 0o222); err != nil {
		return fsError(err)
	}
	return fsError(out.Close())
}

// readErr remembers the error of the archive side of a copy.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// fsError classifies a file system error: entries that collide (a file where
// a directory must go, a name twice as different kinds) are the archive's
// fault; anything else, such as a full disk, is internal.
func fsError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist), errors.Is(err, syscall.ENOTDIR),
		errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ELOOP):
		return badZip(err.Error())
	}
	return fmt.Errorf("codecache: %w", err)
}
