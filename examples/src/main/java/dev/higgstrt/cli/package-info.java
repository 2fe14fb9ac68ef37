/**
 * The {@code bin/higgs-trt} command line: one picocli command per job, each refusing bad input in
 * one line with exit status 2.
 */
package dev.higgstrt.cli;
