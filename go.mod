module github.com/facematch/facematch

go 1.26.8

require github.com/Kagami/go-face v0.0.0-20210630145111-0c14797b4d0e // indirect
