package client

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// ImageExtensions are the file name extensions Upsert streams, compared in lower case.
var ImageExtensions = []string{".jpg", ".jpeg", ".png", ".webp"}

// FolderEntry is one product image found by ListFolder.
type FolderEntry struct {
	// ID is the path relative to the folder without the extension, "/" between folders
	// ("Sneaker/red_runner").
	ID string
	// Path is the image file.
	Path string
	// Category is the name of the folder the image is in; empty directly in the folder.
	Category string
	// Title is the trimmed UTF-8 text of <stem>.txt beside the image, or empty.
	Title string
}

// ListFolder lists the product images of folder by the rule every client shares with the
// server's `productsearch index --folder`: every regular .jpg/.jpeg/.png/.webp file (any
// case) at any depth; names starting with "." are skipped, links to files are followed,
// links to folders are not descended. Sorted by ID in byte (UTF-8) order; images with the
// same ID (x.jpg and x.png) in name order, so the later one wins.
func ListFolder(folder string) ([]FolderEntry, error) {
	info, err := os.Stat(folder)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", folder)
	}
	var entries []FolderEntry
	if err := walk(folder, "", &entries); err != nil {
		return nil, err
	}
	// os.ReadDir lists names in order, so a stable sort keeps equal IDs in name order.
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].ID < entries[j].ID })
	return entries, nil
}

// walk appends the images under dir, whose path relative to the top folder is relative
// ("" for the top folder itself).
func walk(dir, relative string, entries *[]FolderEntry) error {
	children, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	category := ""
	if relative != "" {
		category = filepath.Base(relative)
	}
	for _, child := range children {
		name := child.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		if child.IsDir() { // the entry's own type: a link to a folder is not a folder here
			if err := walk(path, join(relative, name), entries); err != nil {
				return err
			}
			continue
		}
		if !isImageName(name) {
			continue
		}
		if info, err := os.Stat(path); err != nil || !info.Mode().IsRegular() {
			continue // a dangling link, a link to a folder, a pipe, ...
		}
		stem := strings.TrimSuffix(name, filepath.Ext(name))
		title, err := readTitle(filepath.Join(dir, stem+".txt"))
		if err != nil {
			return err
		}
		*entries = append(*entries, FolderEntry{ID: join(relative, stem), Path: path, Category: category, Title: title})
	}
	return nil
}

func join(relative, name string) string {
	if relative == "" {
		return name
	}
	return relative + "/" + name
}

func isImageName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, known := range ImageExtensions {
		if ext == known {
			return true
		}
	}
	return false
}

// readTitle is the text of a title file as the server's Python reads it: UTF-8, "\r\n" and
// "\r" as "\n" (text mode), trimmed like str.strip(). Empty when it is not a regular file.
func readTitle(path string) (string, error) {
	if info, err := os.Stat(path); err != nil || !info.Mode().IsRegular() {
		return "", nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(data) {
		return "", fmt.Errorf("%s: not UTF-8 text", path)
	}
	text := strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r", "\n")
	return strings.TrimFunc(text, isPythonSpace), nil
}

// isPythonSpace reports whether Python's str.strip() removes r. It differs from
// unicode.IsSpace: U+001C..U+001F are spaces to Python.
func isPythonSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', 0x1c, 0x1d, 0x1e, 0x1f, ' ', 0x85, 0xa0,
		0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}
