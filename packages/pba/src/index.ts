// This package has no exports yet: its issue has not landed. See README.md.
export {};
