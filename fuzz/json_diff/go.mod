module pylon/json_diff

go 1.19
